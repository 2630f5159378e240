using System;
using FastPt.Geometry;
using FastPt.Mm;

namespace FastPt;

// /proc/pid/pagemap of the address space.
public sealed partial class AddressSpace
{
    /// <summary>The <c>/proc/pid/pagemap</c> entry of the 4 KiB page containing <paramref name="va"/> (not present
    /// when nothing maps it).</summary>
    public PagemapEntry GetPagemapEntry(VirtAddr va)
    {
        ThrowIfDisposed();
        if (!Paging.IsCanonical(va.Value, _mode) || va.Value >= _userTop) return default;
        return PageInspection.Entry(_mm, va.Value & Paging.PageMask);
    }

    /// <summary>Reads the pagemap entries of the pages from <paramref name="start"/> (rounded down to a page) into
    /// <paramref name="entries"/>, one per 4 KiB page, as a read of <c>/proc/pid/pagemap</c> at offset
    /// <c>start / 4096 * 8</c> does.</summary>
    public void ReadPagemap(VirtAddr start, Span<PagemapEntry> entries)
    {
        ThrowIfDisposed();
        ulong va = start.Value & Paging.PageMask;
        for (int i = 0; i < entries.Length; i++, va += Paging.PageSize)
            entries[i] = va < _userTop && va >= (start.Value & Paging.PageMask) ? PageInspection.Entry(_mm, va) : default;
    }
}
