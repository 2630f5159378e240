using System.Runtime.CompilerServices;
using FastPt.Hardware;
using PageGeometry = FastPt.Geometry.Paging;

namespace FastPt.Benchmarks.Paging;

/// <summary>The physical limit of a translation over FastPt's native tables: the four dependent loads of a 4-level
/// walk (three for a 2 MiB leaf), each through the same <c>physical address → host pointer</c> lookup the engine
/// uses, with no present, rights, canonical or poison checks, no Accessed bit, no RCU section.</summary>
internal static unsafe class BareWalker
{
    /// <summary>Translates <paramref name="va"/> from the 4-level root at <paramref name="rootPa"/>. Handles the PS
    /// bit at the PMD level (2 MiB leaves) only: the benchmarks map no 1 GiB leaves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Translate(PhysicalMemory memory, ulong rootPa, ulong va)
    {
        ulong entry = memory.TableForRead(rootPa)[PageGeometry.Index(PageGeometry.P4dLevel, va)];
        entry = memory.TableForRead(entry & PageTableEntry.AddressMask)[PageGeometry.Index(PageGeometry.PudLevel, va)];
        entry = memory.TableForRead(entry & PageTableEntry.AddressMask)[PageGeometry.Index(PageGeometry.PmdLevel, va)];
        if ((entry & PageTableEntry.Huge) != 0)
            return (entry & PageTableEntry.LeafAddressMask(PageGeometry.PmdLevel)) | (va & (PageGeometry.PmdSize - 1));
        entry = memory.TableForRead(entry & PageTableEntry.AddressMask)[PageGeometry.Index(PageGeometry.PteLevel, va)];
        return (entry & PageTableEntry.AddressMask) | (va & (PageGeometry.PageSize - 1));
    }
}
