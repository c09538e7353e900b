// Parity and model tests allocate native tensors; run test classes one at a time so peak memory stays low
// and thread counts are predictable on small CI machines.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
