using System;
using System.Globalization;
using FastPt.Internals;

namespace FastPt;

/// <summary>Why a map, unmap, protect or collapse operation failed. A failed operation changes nothing.</summary>
public enum PagingError
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>An address is not canonical for the paging mode.</summary>
    NonCanonical,

    /// <summary>The range leaves the address space (the user half), or a physical address lies beyond the
    /// machine's physical address width.</summary>
    OutOfRange,

    /// <summary>An address or length is not a multiple of the page size required.</summary>
    Misaligned,

    /// <summary>A page in the range is already mapped (see <see cref="PagingResult.Existing"/>).</summary>
    AlreadyMapped,

    /// <summary>A larger leaf above the requested page size already maps the place (the Rust x86_64 crate's
    /// <c>ParentEntryHugePage</c>).</summary>
    HugeParentEntry,

    /// <summary>A page in the range is not mapped.</summary>
    NotMapped,

    /// <summary>No free frame for a page table.</summary>
    OutOfFrames,

    /// <summary>A length of zero, a range that wraps, or an unsupported combination of arguments.</summary>
    InvalidArgument,

    /// <summary>A PTE table cannot be collapsed into a 2 MiB leaf: a page is missing or differs in protection,
    /// or (in place) the frames are not one aligned 2 MiB range; <see cref="PagingResult.Detail"/> says which.</summary>
    NotCollapsible,
}

/// <summary>One leaf of a page table: the page it maps and how.</summary>
/// <param name="Page">Start of the leaf's virtual range.</param>
/// <param name="Frame">Start of the physical range the leaf maps.</param>
/// <param name="Size">Leaf size.</param>
/// <param name="Protection">Rights the leaf grants.</param>
/// <param name="Accessed">The Accessed bit (set by the first translation through the leaf).</param>
/// <param name="Dirty">The Dirty bit (set by the first write through the leaf).</param>
public readonly record struct Mapping(VirtAddr Page, PhysAddr Frame, PageSize Size, Protection Protection, bool Accessed, bool Dirty)
{
    /// <summary>The physical address <paramref name="address"/> (inside the leaf) translates to.</summary>
    public PhysAddr PhysicalFor(VirtAddr address) => Frame + (address.Value - Page.Value);

    /// <summary>Readable form.</summary>
    public override string ToString() =>
        $"{Size.ShortName()} page {Page} -> {Frame} ({Protection}{(Accessed ? ", A" : "")}{(Dirty ? ", D" : "")})";
}

/// <summary>Outcome of a paging operation: success, or a precise error with the address where it was found.</summary>
public readonly struct PagingResult : IEquatable<PagingResult>
{
    internal PagingResult(PagingError error, VirtAddr address, Mapping? existing = null, string? detail = null)
    {
        Error = error;
        Address = address;
        Existing = existing;
        Detail = detail;
    }

    /// <summary>A successful result.</summary>
    public static PagingResult Success => default;

    /// <summary>The error, or <see cref="PagingError.None"/>.</summary>
    public PagingError Error { get; }

    /// <summary>True when the operation succeeded.</summary>
    public bool IsSuccess => Error == PagingError.None;

    /// <summary>The address at which the error was detected.</summary>
    public VirtAddr Address { get; }

    /// <summary>For <see cref="PagingError.AlreadyMapped"/> and <see cref="PagingError.HugeParentEntry"/>: what is there.</summary>
    public Mapping? Existing { get; }

    /// <summary>Extra explanation, when there is one.</summary>
    public string? Detail { get; }

    /// <summary>Throws <see cref="PagingException"/> if the operation failed.</summary>
    public void ThrowIfFailed()
    {
        if (!IsSuccess) ThrowHelper.ThrowPaging(this);
    }

    /// <summary>Readable form.</summary>
    public override string ToString()
    {
        if (IsSuccess) return "Success";
        string text = Error switch
        {
            PagingError.NonCanonical => $"address {Address} is not canonical",
            PagingError.OutOfRange => $"range at {Address} is out of range",
            PagingError.Misaligned => $"address or length at {Address} is misaligned",
            PagingError.AlreadyMapped => $"{Address} is already mapped",
            PagingError.HugeParentEntry => $"{Address} lies inside a larger page",
            PagingError.NotMapped => $"{Address} is not mapped",
            PagingError.OutOfFrames => $"out of frames for page tables at {Address}",
            PagingError.InvalidArgument => $"invalid argument at {Address}",
            PagingError.NotCollapsible => $"the PTE table at {Address} cannot be collapsed",
            _ => Error.ToString(),
        };
        if (Existing is { } e) text += $" (by {e})";
        if (Detail is not null) text += ": " + Detail;
        return text;
    }

    /// <inheritdoc/>
    public bool Equals(PagingResult other) => Error == other.Error && Address == other.Address && Existing == other.Existing;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PagingResult other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Error, Address, Existing);

    /// <summary>Equality.</summary>
    public static bool operator ==(PagingResult left, PagingResult right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(PagingResult left, PagingResult right) => !left.Equals(right);
}

/// <summary>Base class of every exception FastPt throws on purpose.</summary>
public class FastPtException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FastPtException() { }

    /// <summary>Creates the exception with a message.</summary>
    public FastPtException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public FastPtException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The simulated machine has no free frames for a request.</summary>
public sealed class OutOfFramesException : FastPtException
{
    /// <summary>Creates the exception.</summary>
    public OutOfFramesException(string message) : base(message) { }
}

/// <summary>A map, unmap or protect operation failed; nothing was changed.</summary>
public sealed class PagingException : FastPtException
{
    /// <summary>Creates the exception from a failed result.</summary>
    public PagingException(PagingResult result) : base(result.ToString()) => Result = result;

    /// <summary>The failed result.</summary>
    public PagingResult Result { get; }

    /// <summary>The error.</summary>
    public PagingError Error => Result.Error;

    /// <summary>Where it was found.</summary>
    public VirtAddr Address => Result.Address;
}

/// <summary>Why an access faulted.</summary>
public enum FaultReason
{
    /// <summary>No mapping at the address.</summary>
    NotMapped,

    /// <summary>A mapping exists but does not allow this access (write to read-only, fetch from no-execute, any
    /// access to a PROT_NONE page).</summary>
    ProtectionViolation,

    /// <summary>The address is not canonical.</summary>
    NonCanonical,

    /// <summary>The address lies outside the address space.</summary>
    OutOfRange,

    /// <summary>The mapping points at physical memory that is not present (a hole, or hot-removed memory).</summary>
    PhysicalMemoryAbsent,

    /// <summary>A demand fault in an anonymous region found no free frame for the page or its page table (the
    /// kernel's <c>VM_FAULT_OOM</c>); nothing was changed.</summary>
    OutOfMemory,
}

/// <summary>A precise page fault: where, what kind of access, and why.</summary>
/// <param name="Address">The faulting virtual address.</param>
/// <param name="Access">The access that faulted.</param>
/// <param name="Reason">Why.</param>
public readonly record struct PageFault(VirtAddr Address, AccessKind Access, FaultReason Reason)
{
    /// <summary>Readable form.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"page fault: {Access} at {Address}: {Reason}");
}

/// <summary>An access through an address space faulted.</summary>
public sealed class PageFaultException : FastPtException
{
    /// <summary>Creates the exception.</summary>
    public PageFaultException(PageFault fault) : base(fault.ToString()) => Fault = fault;

    /// <summary>The fault.</summary>
    public PageFault Fault { get; }
}

/// <summary>The engine's own (kernel) access to its memory failed: a write through a read-only vmemmap mapping,
/// or a walk that reached a freed page table. Like a kernel oops, it means a bug or a deliberate misuse.</summary>
public sealed class KernelFaultException : FastPtException
{
    /// <summary>Creates the exception.</summary>
    public KernelFaultException(string message, VirtAddr address, bool write, bool reachedFreedMemory) : base(message)
    {
        Address = address;
        Write = write;
        ReachedFreedMemory = reachedFreedMemory;
    }

    /// <summary>The kernel virtual address.</summary>
    public VirtAddr Address { get; }

    /// <summary>True for a write.</summary>
    public bool Write { get; }

    /// <summary>True when checked mode found freed (poisoned) memory on the way.</summary>
    public bool ReachedFreedMemory { get; }
}

/// <summary>Checked mode found an access to freed memory: a translation, walk or cached partial walk reached a
/// page table or frame after it was freed. This is the bug class "free before flush" produces.</summary>
public sealed class UseAfterFreeException : FastPtException
{
    /// <summary>Creates the exception.</summary>
    public UseAfterFreeException(string message, VirtAddr address, PhysAddr freedFrame) : base(message)
    {
        Address = address;
        FreedFrame = freedFrame;
    }

    /// <summary>The virtual address being translated.</summary>
    public VirtAddr Address { get; }

    /// <summary>The freed frame that was reached.</summary>
    public PhysAddr FreedFrame { get; }
}
