"""Stage 3, differentiate: reverse and forward mode over the graph (`differentiate`),
the rule tables (`rules`, `batched_rules`), and the derivative kinds a module can hold
(`transforms`)."""
