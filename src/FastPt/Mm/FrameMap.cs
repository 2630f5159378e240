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

    public FrameMap(MemoryManager memory)
    {
        _sparse = memory.Sparse;
        _memmap = memory.Memmap;
        _stat = memory.Stat;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsPresent(ulong pfn) => _sparse.PfnPresent(pfn);

    public bool IsFreed(ulong pfn) => _sparse.PfnValid(pfn) && (_memmap.Get(pfn)->Flags & PageFlags.Poisoned) != 0;

    public void CountUseAfterFree() => Vmstat.Add(ref _stat.UseAfterFreeDetected, 1);
}
