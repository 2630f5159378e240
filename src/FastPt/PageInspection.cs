using System;

namespace FastPt;

/// <summary>Page flags with the bit numbers of <c>/proc/kpageflags</c> (<c>include/uapi/linux/kernel-page-flags.h</c>),
/// for the flags FastPt's frames can have. Read them with <see cref="Machine.GetPageFlags"/> or
/// <see cref="Machine.ReadPageFlags"/>; <c>fastpt kpageflags</c> prints them.</summary>
[Flags]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1711", Justification = "Named after /proc/kpageflags, whose bits it carries.")]
public enum KPageFlags : ulong
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>KPF_BUDDY (10): the head of a free block of the buddy allocator.</summary>
    Buddy = 1UL << 10,

    /// <summary>KPF_COMPOUND_HEAD (15): the first page of a compound page (a HugeTLB folio's head).</summary>
    CompoundHead = 1UL << 15,

    /// <summary>KPF_COMPOUND_TAIL (16): any other page of a compound page — including, in Linux 6.x's vmemmap
    /// optimization, the tails whose descriptor reads as a head (fake heads).</summary>
    CompoundTail = 1UL << 16,

    /// <summary>KPF_HUGE (17): part of a HugeTLB folio (head and tails).</summary>
    Huge = 1UL << 17,

    /// <summary>KPF_NOPAGE (20): no page frame at this address (no present memory).</summary>
    NoPage = 1UL << 20,

    /// <summary>KPF_PGTABLE (26): a page-table page.</summary>
    PageTable = 1UL << 26,

    /// <summary>KPF_RESERVED (32): PG_reserved (boot memory: the memmap, boot page tables).</summary>
    Reserved = 1UL << 32,
}

/// <summary>One entry of <c>/proc/pid/pagemap</c> (<c>Documentation/admin-guide/mm/pagemap.rst</c>): the 64-bit
/// value the kernel gives for one 4 KiB page of an address space. FastPt reports the present bit and the frame;
/// it keeps no soft-dirty, exclusive-mapping or swap state, so those bits are 0.</summary>
/// <param name="Raw">The 64-bit value: bits 0–54 the frame number when present, bit 63 present.</param>
public readonly record struct PagemapEntry(ulong Raw)
{
    /// <summary>Bit 63: the page is present (mapped; a PROT_NONE page counts as present, as in Linux).</summary>
    public const ulong PresentBit = 1UL << 63;

    /// <summary>Bits 0–54: the frame number (<c>PM_PFRAME_MASK</c>).</summary>
    public const ulong PfnMask = (1UL << 55) - 1;

    /// <summary>True when the page is present.</summary>
    public bool Present => (Raw & PresentBit) != 0;

    /// <summary>The frame mapping the page, when present.</summary>
    public ulong Pfn => Raw & PfnMask;
}
