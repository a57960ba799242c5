//! Synthetic DLRM-shaped and two-tower datasets with a planted signal, so trained models have a known quality ceiling.
