//! Shared helpers of the benchmark drivers in `src/bin/`; each driver prints one JSON line of
//! figures that the `bench/*.sh` scripts compare with the peer tools' figures.
