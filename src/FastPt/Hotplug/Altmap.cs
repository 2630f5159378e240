namespace FastPt.Hotplug;

/// <summary>A <c>vmem_altmap</c>: the head of a hot-added range set aside to host that range's own memmap, handed
/// out in 2 MiB blocks by a bump allocator and given back by counting down, as the kernel does.</summary>
internal sealed class Altmap
{
    public Altmap(ulong basePfn, ulong free, ulong rangePages)
    {
        BasePfn = basePfn;
        Free = free;
        RangePages = rangePages;
    }

    /// <summary>First frame of the range (and of the altmap).</summary>
    public ulong BasePfn { get; }

    /// <summary>Frames set aside for memmap.</summary>
    public ulong Free { get; }

    /// <summary>Frames of the whole added range.</summary>
    public ulong RangePages { get; }

    /// <summary>Frames handed out now.</summary>
    public ulong Allocated { get; private set; }

    /// <summary>True when <paramref name="pfn"/> is one of the altmap's frames.</summary>
    public bool Contains(ulong pfn) => pfn >= BasePfn && pfn < BasePfn + Free;

    /// <summary><c>altmap_alloc_block_buf</c>: the next <paramref name="pages"/> frames, or false when used up.</summary>
    public bool TryAllocate(ulong pages, out ulong pfn)
    {
        pfn = BasePfn + Allocated;
        if (Allocated + pages > Free) return false;
        Allocated += pages;
        return true;
    }

    /// <summary><c>vmem_altmap_free</c>.</summary>
    public void Release(ulong pages) => Allocated -= pages;
}
