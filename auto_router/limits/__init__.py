"""Usage limits: what they look like and when they reset, one place for launcher and proxy.

``markers`` are the texts an agent prints at a limit, ``scanner`` finds them in a child's
output, ``resets`` reads a reset time out of a message, ``upstream`` reads an upstream's
failure, ``phrases`` holds the reset-time patterns those two share, and ``cooling`` writes
the line shown when every provider is cooling down.
"""
