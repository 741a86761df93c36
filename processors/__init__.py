"""Pure cores of opsrules: no Kafka, no faust, no clock. Time is passed in."""
