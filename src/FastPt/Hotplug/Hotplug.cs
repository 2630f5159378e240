using System;

namespace FastPt;

/// <summary>How hot-add builds the vmemmap of the new memory.</summary>
public enum VmemmapPopulation
{
    /// <summary>As x86-64 Linux does: a whole section's memmap gets 2 MiB PMD blocks; smaller (sub-section) ranges
    /// get 4 KiB pages.</summary>
    Linux = 0,

    /// <summary>Always use 2 MiB blocks, even when a range fills a block only in part (as s390 does): the unused
    /// part of a new block is marked with 0xFD from the aligned-down block start, and consecutive adds continue the
    /// block instead of re-marking it (the kernel's <c>unused_pmd_start</c>).</summary>
    PmdBlocksAlways = 1,
}

/// <summary>Options of <see cref="Machine.AddMemory"/>.</summary>
public sealed class HotAddOptions
{
    /// <summary>Host the new memory's memmap in the head of the added range itself (<c>vmem_altmap</c>, the
    /// kernel's memmap_on_memory), instead of taking it from the buddy allocator. Needs whole sections.</summary>
    public bool UseAltmap { get; init; }

    /// <summary>Online the memory into ZONE_MOVABLE (the default, as <c>online_movable</c>): kernel allocations
    /// (page tables, memmap) never come from it, so it stays removable. When false it joins ZONE_NORMAL. A section
    /// that already has present memory keeps its zone.</summary>
    public bool Movable { get; init; } = true;

    /// <summary>How the vmemmap is populated.</summary>
    public VmemmapPopulation Population { get; init; } = VmemmapPopulation.Linux;
}

/// <summary>Why a hot-add or hot-remove was refused. A refused operation changes nothing.</summary>
public enum HotplugError
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>Start or size is not a multiple of a 2 MiB subsection (or, with an altmap, of a 128 MiB section).</summary>
    Misaligned,

    /// <summary>The range is empty, or leaves the machine's physical address width.</summary>
    OutOfRange,

    /// <summary>Part of the range is already present (hot-add).</summary>
    AlreadyPresent,

    /// <summary>Part of the range is not present (hot-remove).</summary>
    NotPresent,

    /// <summary>A frame in the range is still in use (allocated data, page tables, or the memmap of other memory).
    /// Offline it first.</summary>
    Busy,

    /// <summary>No memory for the new range's memmap or page tables.</summary>
    OutOfMemory,

    /// <summary>The range does not match how it was added (memory added with an altmap must be removed whole).</summary>
    InvalidArgument,
}

/// <summary>Outcome of <see cref="Machine.TryAddMemory"/> or <see cref="Machine.TryRemoveMemory"/>: what the
/// operation did, or why it was refused (a refused operation changes nothing). A busy block or a shortage of
/// memory for metadata is an expected outcome, so it is a result, not an exception.</summary>
public readonly struct HotplugResult
{
    internal HotplugResult(HotplugReport report)
    {
        Report = report;
        Start = report.Start;
        Size = report.Size;
        Detail = null;
    }

    internal HotplugResult(HotplugError error, PhysAddr start, ulong size, string detail)
    {
        Error = error;
        Start = start;
        Size = size;
        Detail = detail;
    }

    /// <summary>Why the operation was refused, or <see cref="HotplugError.None"/>.</summary>
    public HotplugError Error { get; }

    /// <summary>True when the operation was done.</summary>
    public bool IsSuccess => Error == HotplugError.None;

    /// <summary>Start of the range.</summary>
    public PhysAddr Start { get; }

    /// <summary>Size of the range.</summary>
    public ulong Size { get; }

    /// <summary>What the operation did; null when it was refused.</summary>
    public HotplugReport? Report { get; }

    /// <summary>Why it was refused, in words; null on success.</summary>
    public string? Detail { get; }

    /// <summary>The report, or <see cref="HotplugException"/> if the operation was refused.</summary>
    public HotplugReport ThrowIfFailed() => Report ?? throw new HotplugException(this);

    /// <summary>Readable form.</summary>
    public override string ToString() => IsSuccess ? $"Success: [{Start}, {Start + Size})" : $"{Error}: [{Start}, {Start + Size}): {Detail}";
}

/// <summary>A hot-add or hot-remove was refused; nothing changed.</summary>
public sealed class HotplugException : FastPtException
{
    /// <summary>Creates the exception.</summary>
    public HotplugException(HotplugError error, PhysAddr start, ulong size, string message)
        : base($"{error}: [{start}, {start + size}): {message}")
    {
        Error = error;
        Start = start;
        Size = size;
    }

    /// <summary>Creates the exception for a refused <paramref name="result"/>.</summary>
    public HotplugException(HotplugResult result)
        : this(result.Error, result.Start, result.Size, result.Detail ?? "refused")
    {
        if (result.IsSuccess) throw new ArgumentException("The operation succeeded.", nameof(result));
    }

    /// <summary>The reason.</summary>
    public HotplugError Error { get; }

    /// <summary>Start of the range.</summary>
    public PhysAddr Start { get; }

    /// <summary>Size of the range.</summary>
    public ulong Size { get; }
}

/// <summary>What a hot-add or hot-remove did.</summary>
public sealed record HotplugReport
{
    /// <summary>Start of the range.</summary>
    public PhysAddr Start { get; init; }

    /// <summary>Size of the range.</summary>
    public ulong Size { get; init; }

    /// <summary>Change of <c>nr_memmap_pages</c> (the kernel's accounting).</summary>
    public long MemmapPagesDelta { get; init; }

    /// <summary>Change of <c>nr_memmap_boot_pages</c>.</summary>
    public long MemmapBootPagesDelta { get; init; }

    /// <summary>Frames of memmap really allocated (positive) or freed (negative).</summary>
    public long MemmapFramesDelta { get; init; }

    /// <summary>Kernel page-table pages allocated (positive) or freed (negative).</summary>
    public long PageTablesDelta { get; init; }

    /// <summary>Bytes of vmemmap filled with 0xFD (PAGE_UNUSED).</summary>
    public long BytesMarkedUnused { get; init; }

    /// <summary>Vmemmap pages or 2 MiB blocks freed because <c>memchr_inv</c> found them entirely unused.</summary>
    public int PartialBlocksFreed { get; init; }

    /// <summary>Frames onlined into (positive) or offlined from (negative) the buddy allocator.</summary>
    public long ManagedPagesDelta { get; init; }

    /// <summary>TLB flushes the operation issued.</summary>
    public int Flushes { get; init; }

    /// <summary>Wall time.</summary>
    public TimeSpan Elapsed { get; init; }
}
