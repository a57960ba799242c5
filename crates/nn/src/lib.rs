//! Dense layers with hand-derived backward passes on a fast GEMM: linear, activations, MLP, DLRM interaction, DCN-v2 cross, FM, losses and dense optimizers.
