using System;

namespace FastPt;

/// <summary>Options of <see cref="AddressSpace.MapAnonymous"/>.</summary>
[Flags]
public enum AnonymousOptions
{
    /// <summary>4 KiB pages, each zero-filled on its first access.</summary>
    None = 0,

    /// <summary>Transparent huge pages: the first fault in a 2 MiB-aligned block that lies wholly inside the region
    /// allocates a 2 MiB frame and maps it with one PMD leaf; when no 2 MiB frame is free it falls back to 4 KiB
    /// pages (counted as <see cref="MemoryStatistics.ThpFaultFallback"/>). Unmapping or protecting part of such a
    /// page splits it.</summary>
    TransparentHugePages = 1,

    /// <summary>Read faults map the machine's shared zero page read-only instead of allocating; the first write to
    /// the page copies it into a frame of its own (the kernel's zero page in <c>do_anonymous_page</c>). Applies to
    /// 4 KiB faults: with <see cref="TransparentHugePages"/> too, a fault that gets a huge page allocates it (there
    /// is no huge zero page).</summary>
    ZeroPage = 2,
}

/// <summary>A region reserved with <see cref="AddressSpace.MapAnonymous"/> (an anonymous VMA).</summary>
/// <param name="Start">First address.</param>
/// <param name="Length">Bytes; a multiple of 4 KiB.</param>
/// <param name="Protection">Rights of every page of the region.</param>
/// <param name="Options">How its pages are faulted in.</param>
public readonly record struct AnonymousRegion(VirtAddr Start, ulong Length, Protection Protection, AnonymousOptions Options)
{
    /// <summary>Exclusive end; 0 for a region that ends at 2^64 (the top of a
    /// <see cref="AddressSpaceLayout.FullCanonical"/> space), where <see cref="Length"/> still counts its bytes.</summary>
    public VirtAddr End => Start + Length;

    /// <summary>Readable form.</summary>
    public override string ToString() => $"[{Start}, {End}) {Protection} {Options}";
}
