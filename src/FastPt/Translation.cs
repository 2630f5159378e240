namespace FastPt;

/// <summary>The result of translating one virtual address: the physical address and the leaf that mapped it,
/// or the fault.</summary>
public readonly struct Translation
{
    internal Translation(PhysAddr physAddr, PageSize pageSize, Protection protection)
    {
        Succeeded = true;
        PhysAddr = physAddr;
        PageSize = pageSize;
        Protection = protection;
        Fault = default;
    }

    internal Translation(PageFault fault)
    {
        Succeeded = false;
        PhysAddr = default;
        PageSize = default;
        Protection = default;
        Fault = fault;
    }

    /// <summary>True when the access is allowed and <see cref="PhysAddr"/> is valid.</summary>
    public bool Succeeded { get; }

    /// <summary>The physical address.</summary>
    public PhysAddr PhysAddr { get; }

    /// <summary>Size of the leaf that mapped the address.</summary>
    public PageSize PageSize { get; }

    /// <summary>Rights of that leaf.</summary>
    public Protection Protection { get; }

    /// <summary>The fault, when <see cref="Succeeded"/> is false.</summary>
    public PageFault Fault { get; }

    /// <summary>Readable form.</summary>
    public override string ToString() => Succeeded ? $"{PhysAddr} ({PageSize.ShortName()}, {Protection})" : Fault.ToString();
}

/// <summary>Page-table pages of one address space by level, and the figure Linux reports as VmPTE.</summary>
/// <param name="Pte">PTE tables.</param>
/// <param name="Pmd">PMD tables.</param>
/// <param name="Pud">PUD tables.</param>
/// <param name="P4d">P4D tables (5-level paging only).</param>
public readonly record struct PageTableCounts(long Pte, long Pmd, long Pud, long P4d)
{
    /// <summary>Tables below the root.</summary>
    public long Total => Pte + Pmd + Pud + P4d;

    /// <summary>VmPTE in KiB: PTE, PMD and PUD tables, 4 KiB each (Linux <c>mm_pgtables_bytes</c> does not count
    /// P4D tables or the PGD).</summary>
    public long VmPteKiB => (Pte + Pmd + Pud) * 4;
}
