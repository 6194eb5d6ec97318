"""What the operating system says, read into plain records: sockets, owners, interfaces."""
