"""Everything in opsrules that knows Kafka and faust: settings, topics, codecs, the
batch loops of both tiers, the faust app, the local broker and the CLI."""
