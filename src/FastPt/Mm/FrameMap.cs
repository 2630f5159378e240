using System.Runtime.CompilerServices;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>The memory manager's answers to a CPU's questions about frames (<see cref="IFrameMap"/>): presence from
/// the sparse model, freed from the descriptor's poison flag, use-after-free counted in vmstat.</summary>
internal readonly unsafe struct FrameMap : IFrameMap
{
    private readonly SparseMemory _sparse;
    private readonly Memmap _memmap;
    private readonly Vmstat _stat;
    // Copies of the section table's address and length (fixed for the machine's life): the CPU embeds this struct,
    // so the presence test of every TLB refill loads the subsection map directly, not through the SparseMemory.
    private readonly ulong* _subsectionMaps;
    private readonly ulong _sectionCount;

    public FrameMap(MemoryManager memory)
    {
        _sparse = memory.Sparse;
        _memmap = memory.Memmap;
        _stat = memory.Stat;
        _subsectionMaps = _sparse.SubsectionMaps;
        _sectionCount = _sparse.SectionCount;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsPresent(ulong pfn) => SparseMemory.PfnPresent(_subsectionMaps, _sectionCount, pfn);

    public bool IsFreed(ulong pfn) => _sparse.PfnValid(pfn) && (_memmap.Get(pfn)->Flags & PageFlags.Poisoned) != 0;

    public void CountUseAfterFree() => Vmstat.Add(ref _stat.UseAfterFreeDetected, 1);
}
