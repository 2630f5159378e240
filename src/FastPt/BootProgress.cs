namespace FastPt;

/// <summary>The steps of booting a machine, in the order they run.</summary>
public enum BootPhase
{
    /// <summary>memblock and the sparse memory model learn the memory map; units are bytes of RAM.</summary>
    MemoryMap,

    /// <summary>The direct map of all RAM is built (<c>init_memory_mapping</c>); units are bytes of RAM.</summary>
    DirectMap,

    /// <summary>The memmap of every present section is allocated and mapped in the vmemmap (<c>sparse_init</c>);
    /// units are bytes of the sections covered.</summary>
    Memmap,

    /// <summary>The frames memblock handed out are marked reserved (<c>reserve_bootmem_region</c>; their
    /// descriptors are written when first used); units are reserved bytes.</summary>
    Reserve,

    /// <summary>The remaining memory goes to the buddy allocator (<c>memblock_free_all</c>); units are free
    /// bytes.</summary>
    FreeMemory,
}

/// <summary>How far a machine's boot got: <see cref="Completed"/> of <see cref="Total"/> units of
/// <see cref="Phase"/>. Reported on the booting thread, at most about once per 64 GiB of work and once at the end
/// of every phase.</summary>
/// <param name="Phase">The step running.</param>
/// <param name="Completed">Units of the step done (see <see cref="BootPhase"/>).</param>
/// <param name="Total">Units the step has in all.</param>
public readonly record struct BootProgress(BootPhase Phase, ulong Completed, ulong Total)
{
    /// <summary>Completed over total, from 0 to 1 (1 when the step has nothing to do).</summary>
    public double Fraction => Total == 0 ? 1 : (double)Completed / Total;
}
