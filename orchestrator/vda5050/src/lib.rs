//! VDA 5050 version 2 on the wire, without the wire.
