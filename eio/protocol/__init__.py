"""Sans-IO Engine.IO v4: codecs and state machines. No sockets, no clock, no logging here."""
