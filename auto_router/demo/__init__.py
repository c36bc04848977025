"""A self-contained demonstration: fake providers on localhost, a fake agent, real rotation."""
