"""What a provider type is: its templates, how it is addressed, what it serves, its health.

Everything here reads the frozen configuration and nothing writes it; the proxy, the launcher
and the CLI all ask the same modules, so a new provider type is added in one place.
"""
