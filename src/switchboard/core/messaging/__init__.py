"""Two-way text messages with customers, and their opt-outs."""
