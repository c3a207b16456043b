"""Local stand-ins for outside providers: small HTTP servers that real SDKs are pointed at.

They answer like the provider does, in the provider's own wire format, and record every request
they receive, so a test can check what an adapter really sent without mocking the SDK.
"""
