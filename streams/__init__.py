"""Everything in opsrules that knows Kafka and faust: settings, topics, schemas,
codecs, the firehose loops, the faust app, the local broker and the CLI."""
