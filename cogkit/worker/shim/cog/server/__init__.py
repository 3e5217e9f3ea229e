"""`cog.server`: only what predictor code reaches for (`cog.server.scope`)."""
