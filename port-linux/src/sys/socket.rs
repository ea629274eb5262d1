//! `AF_PACKET` sockets.
