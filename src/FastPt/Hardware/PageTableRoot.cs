namespace FastPt.Hardware;

/// <summary>What a CPU sees of an address space: the root table CR3 points to, its level, the flush domain its
/// TLB listens to (x86's per-mm <c>tlb_gen</c>), the id traces name it by, and whether it was torn down. The memory
/// manager owns one per <c>mm_struct</c> and writes it; the CPU only reads it, so Hardware needs nothing of Mm.</summary>
internal sealed class PageTableRoot
{
    public PageTableRoot(ulong id, int level, ulong userLast)
    {
        Id = id;
        Level = level;
        UserLast = userLast;
    }

    /// <summary>Unique id of the address space (recorded in each table's descriptor as its owner, <c>pt_mm</c>).</summary>
    public ulong Id { get; }

    /// <summary>Level of the root table (4, or 5 with 5-level paging).</summary>
    public int Level { get; }

    /// <summary>The last address (inclusive) a user access may translate: the top of the lower half for a process,
    /// 2^64 − 1 for a space covering the whole canonical range (the hole is refused by the canonical check).</summary>
    public ulong UserLast { get; }

    /// <summary>Physical address of the root table (what CR3 holds).</summary>
    public ulong Pa { get; set; }

    /// <summary>Invalidation channel of the address space.</summary>
    public FlushDomain Flush { get; } = new();

    /// <summary>Where faults of user accesses are delivered (the operating system's #PF handler), or null when
    /// every fault goes back to the caller as it is.</summary>
    public IPageFaultHandler? FaultHandler { get; set; }

    /// <summary>Set once the address space is torn down: a CPU still holding it must refuse to translate.</summary>
    public bool TornDown { get; set; }
}
