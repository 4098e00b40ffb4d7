//! Static CVRP (filled in below).
