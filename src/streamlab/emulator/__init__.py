"""The embedded AWS endpoint: one HTTP port, moto's backends plus streamlab's Lambda service."""
