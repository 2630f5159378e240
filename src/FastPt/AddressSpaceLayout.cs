namespace FastPt;

/// <summary>Which virtual addresses an <see cref="AddressSpace"/> maps (chosen at
/// <see cref="Machine.CreateAddressSpace(AddressSpaceLayout)"/>).</summary>
public enum AddressSpaceLayout
{
    /// <summary>A Linux process: the lower canonical half only, [0, 2^47) with 4-level paging or [0, 2^56) with
    /// 5-level. The higher half belongs to the machine's kernel (its root entries are shared with init_mm, as
    /// <c>pgd_alloc</c> copies them), so a range there is refused with <see cref="PagingError.OutOfRange"/> and an
    /// access there faults with <see cref="FaultReason.OutOfRange"/>. The default.</summary>
    User = 0,

    /// <summary>A guest whose kernel lives in the higher half (an emulator's or hypervisor's guest page tables):
    /// every canonical address of the paging mode, both halves — [0, 2^47) and [2^64 − 2^47, 2^64) with 4-level
    /// paging, [0, 2^56) and [2^64 − 2^56, 2^64) with 5-level — up to and including the top page, which ends
    /// exactly at 2^64. No kernel layout is reserved: the root holds no entry of the machine's kernel, whose direct
    /// map and vmemmap stay reachable only through <see cref="MmuContext.TranslateKernel"/> (global TLB entries that
    /// never answer a guest access at the same address). Map, unmap, discard, protect, anonymous regions and demand
    /// faults, dirty logs, collapse, lockless walks, dumps and flushes work the same in both halves. A range must lie
    /// inside one half: one that crosses the non-canonical hole is refused with
    /// <see cref="PagingError.NonCanonical"/> (and one that runs past 2^64 with
    /// <see cref="PagingError.InvalidArgument"/>), with nothing changed.</summary>
    FullCanonical = 1,
}
