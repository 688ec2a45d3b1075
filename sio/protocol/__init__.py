"""Sans-IO Socket.IO v5: the packet codec and the attachment decoder. No I/O here."""
