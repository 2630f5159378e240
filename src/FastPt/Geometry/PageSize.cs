using System;

namespace FastPt;

/// <summary>The three x86-64 page sizes. The numeric value is the size's shift (log2 of its bytes).</summary>
public enum PageSize
{
    /// <summary>4 KiB, mapped by a PTE.</summary>
    Size4K = 12,

    /// <summary>2 MiB, mapped by a PMD entry with the PS bit.</summary>
    Size2M = 21,

    /// <summary>1 GiB, mapped by a PUD entry with the PS bit.</summary>
    Size1G = 30,
}

/// <summary>Helpers for <see cref="PageSize"/>.</summary>
public static class PageSizeExtensions
{
    /// <summary>The size in bytes.</summary>
    public static ulong Bytes(this PageSize size) => 1UL << (int)size;

    /// <summary>The page-table level whose leaf entries map pages of this size (1 = PTE, 2 = PMD, 3 = PUD).</summary>
    public static int LeafLevel(this PageSize size) => ((int)size - 12) / 9 + 1;

    /// <summary>A short name: 4K, 2M or 1G.</summary>
    public static string ShortName(this PageSize size) => size switch
    {
        PageSize.Size4K => "4K",
        PageSize.Size2M => "2M",
        PageSize.Size1G => "1G",
        _ => throw new ArgumentOutOfRangeException(nameof(size)),
    };
}

/// <summary>How many levels of page tables translate an address.</summary>
public enum PagingMode
{
    /// <summary>4-level paging: 48-bit virtual addresses (PGD, PUD, PMD, PTE; the P4D is folded).</summary>
    FourLevel = 4,

    /// <summary>5-level paging (LA57): 57-bit virtual addresses (PGD, P4D, PUD, PMD, PTE).</summary>
    FiveLevel = 5,
}

/// <summary>Access rights of a mapping. x86-64 cannot express write-only or execute-only pages, so
/// <see cref="Write"/> and <see cref="Execute"/> imply <see cref="Read"/> (as Linux does for PROT_WRITE on x86).</summary>
[Flags]
public enum Protection
{
    /// <summary>Mapped but inaccessible (PROT_NONE): the entry keeps its frame, every access faults.</summary>
    None = 0,

    /// <summary>Readable.</summary>
    Read = 1,

    /// <summary>Writable (implies readable).</summary>
    Write = 2,

    /// <summary>Executable (implies readable). Without it the entry carries NX.</summary>
    Execute = 4,

    /// <summary>Read and write.</summary>
    ReadWrite = Read | Write,

    /// <summary>Read and execute.</summary>
    ReadExecute = Read | Execute,

    /// <summary>Read, write and execute.</summary>
    All = Read | Write | Execute,
}

/// <summary>The kind of memory access being translated.</summary>
public enum AccessKind
{
    /// <summary>A data read.</summary>
    Read = 0,

    /// <summary>A data write.</summary>
    Write = 1,

    /// <summary>An instruction fetch.</summary>
    Execute = 2,
}
