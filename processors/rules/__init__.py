"""The rule engine's pure cores: expressions, rule files, alert state, decisions."""
