using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Mm;

/// <summary>A bulk path's own small cache of the descriptor pages it is touching (a drain's frames and their
/// buddies, a refill's splits, a bulk free's run of frames: 64 descriptors share one 4 KiB vmemmap page), held on the
/// caller's stack for one operation. A hit costs a tag compare and the flush-generation compare, where
/// <see cref="Memmap.Get(ulong)"/> reads the thread's kernel TLB (a thread-static: a runtime helper call on CoreCLR
/// linux-x64) and hashes into it for every descriptor. Entries come only from <see cref="Memmap.GetAt"/> and
/// <see cref="Memmap.GetMutableAt"/>, so a miss faults exactly as they do (a write to a read-only HVO tail mapping
/// throws), and every hit obeys their flush rule: an entry is used only while the machine's flush generation is the
/// one read before it was filled (<see cref="Memmap.FlushKernelTlb"/> empties every cursor as it empties every
/// thread's TLB). Write-capable entries are made by writes only, as the TLB's are (writes are accounted to their
/// frame). Direct-mapped by the low bits of the descriptor page's number: consecutive pages, and the buddy pages of
/// orders 6 to 9, fall in different entries; 16 of them, because a merge touches the buddy's list neighbours too,
/// whose pages may be anywhere.</summary>
internal unsafe struct DescriptorCursor
{
    /// <summary>Entries (a power of two).</summary>
    public const int Entries = 16;

    /// <summary>The flush generation every entry was filled under (0: none yet; real generations are never 0).</summary>
    public long Generation;

    /// <summary>The descriptor pages cached, as the frame number of their first descriptor / 64, plus 1 (0: empty).</summary>
    public fixed ulong Tag[Entries];

    /// <summary>Host address of each cached page for reading.</summary>
    public fixed long Read[Entries];

    /// <summary>Host address of each cached page for writing, 0 when it was filled by a read.</summary>
    public fixed long Write[Entries];
}

internal sealed unsafe partial class Memmap
{
    /// <summary>Descriptors per 4 KiB vmemmap page (the vmemmap base is page aligned, so the frames of one page are
    /// the 64 of an aligned run).</summary>
    private const int DescriptorsPerPageShift = Paging.PageShift - KernelLayout.DescriptorShift;

    /// <summary><see cref="Get(ulong)"/> through <paramref name="cursor"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageDescriptor* GetCached(ulong pfn, ref DescriptorCursor cursor)
    {
        ulong tag = (pfn >> DescriptorsPerPageShift) + 1;
        int i = (int)(tag & (DescriptorCursor.Entries - 1));
        if (cursor.Tag[i] == tag && cursor.Generation == Volatile.Read(ref _flushGeneration))
            return (PageDescriptor*)(cursor.Read[i] + (long)((pfn & ((1UL << DescriptorsPerPageShift) - 1)) << KernelLayout.DescriptorShift));
        return CursorMiss(pfn, write: false, ref cursor);
    }

    /// <summary><see cref="GetMutable(ulong)"/> through <paramref name="cursor"/>. Faults (throws) on a read-only
    /// mapping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageDescriptor* GetMutableCached(ulong pfn, ref DescriptorCursor cursor)
    {
        ulong tag = (pfn >> DescriptorsPerPageShift) + 1;
        int i = (int)(tag & (DescriptorCursor.Entries - 1));
        if (cursor.Tag[i] == tag && cursor.Generation == Volatile.Read(ref _flushGeneration) && cursor.Write[i] != 0)
            return (PageDescriptor*)(cursor.Write[i] + (long)((pfn & ((1UL << DescriptorsPerPageShift) - 1)) << KernelLayout.DescriptorShift));
        return CursorMiss(pfn, write: true, ref cursor);
    }

    /// <summary>Fills the cursor's entry of <paramref name="pfn"/>'s descriptor page from the kernel TLB (or a
    /// walk), emptying the cursor first when a flush came since it was filled.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private PageDescriptor* CursorMiss(ulong pfn, bool write, ref DescriptorCursor cursor)
    {
        // Read before the lookup, as Miss reads it before its walk: a flush landing during the lookup leaves the
        // entry tagged with the older generation, so the next access looks it up again.
        long generation = Volatile.Read(ref _flushGeneration);
        if (cursor.Generation != generation)
        {
            for (int e = 0; e < DescriptorCursor.Entries; e++) cursor.Tag[e] = 0;
            cursor.Generation = generation;
        }
        ulong va = _layout.DescriptorAddress(pfn);
        byte* p = write ? (byte*)GetMutableAt(va) : (byte*)GetAt(va);
        ulong tag = (pfn >> DescriptorsPerPageShift) + 1;
        int i = (int)(tag & (DescriptorCursor.Entries - 1));
        long page = (long)p - (long)(va & (Paging.PageSize - 1));
        cursor.Tag[i] = tag;
        cursor.Read[i] = page;
        cursor.Write[i] = write ? page : 0;
        return (PageDescriptor*)p;
    }
}
