using System;
using System.Collections.Generic;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>One leaf of the reference model.</summary>
internal sealed class ModelLeaf
{
    public ulong Va;
    public ulong Size;
    public ulong Pa;
    public Protection Protection;
    public bool Accessed;
    public bool Dirty;

    public ulong End => Va + Size;

    public PageSize PageSize => Size switch { GiB => PageSize.Size1G, 2 * MiB => PageSize.Size2M, _ => PageSize.Size4K };

    public Mapping ToMapping() => new(V(Va), P(Pa), PageSize, Protection, Accessed, Dirty);

    public bool Allows(AccessKind access) => access switch
    {
        AccessKind.Read => (Protection & Protection.Read) != 0,
        AccessKind.Write => (Protection & Protection.Write) != 0,
        _ => (Protection & Protection.Execute) != 0,
    };

    public override string ToString() => ToMapping().ToString();
}

/// <summary>What the reference model expects of a translation: the fault, or the physical address and leaf size.</summary>
internal readonly record struct ModelTranslation(PageFault? Fault, ulong Pa, PageSize Size)
{
    public override string ToString() => Fault is { } f ? f.ToString() : $"0x{Pa:x16} ({Size.ShortName()})";
}

/// <summary>What the reference model expects of an operation: success, or one of a set of errors (more than one
/// only when a request breaks several argument rules at once, whose precedence the semantics leave open) at an
/// address, with what is mapped there.</summary>
internal readonly record struct Expectation(PagingError[] Errors, ulong Address, Mapping? Existing)
{
    public static Expectation Success => new([PagingError.None], 0, null);

    public bool IsSuccess => Errors.Length == 1 && Errors[0] == PagingError.None;

    public override string ToString() => IsSuccess ? "success" : $"{string.Join(" or ", Errors)} at 0x{Address:x}{(Existing is { } e ? $" (by {e})" : "")}";
}

/// <summary>A deliberately simple model of one address space: the leaves (which page maps which frame, with
/// which size, rights, Accessed and Dirty), the bytes of physical memory written through it, and the tables the
/// leaves need by the accounting rule. It decides every outcome from the semantics alone.</summary>
internal sealed class ReferenceModel
{
    private readonly Dictionary<ulong, ModelLeaf> _leaves = new();
    private readonly SortedSet<ulong> _starts = new();
    private readonly Dictionary<ulong, byte[]> _frames = new();
    private readonly Dictionary<ulong, int>[] _tableUsers = [new(), new(), new(), new()]; // PTE, PMD, PUD, P4D regions
    private readonly long[] _leafCounts = new long[3];

    public ReferenceModel(PagingMode mode, ulong userTop, ulong maxPhysicalAddress, bool fullCanonical = false)
    {
        Mode = mode;
        UserTop = userTop;
        MaxPhysicalAddress = maxPhysicalAddress;
        FullCanonical = fullCanonical;
    }

    /// <summary>The space covers both canonical halves (<see cref="AddressSpaceLayout.FullCanonical"/>).</summary>
    public bool FullCanonical { get; }

    /// <summary>The last address the space maps: below the hole, or 2^64 − 1 for both halves.</summary>
    public ulong Last => FullCanonical ? ulong.MaxValue : UserTop - 1;

    /// <summary>First address of the higher half (the hole lies between <see cref="UserTop"/> and it).</summary>
    public ulong HigherHalfStart => 0UL - UserTop;

    public PagingMode Mode { get; }

    public ulong UserTop { get; }

    public ulong MaxPhysicalAddress { get; }

    public ulong MappedBytes { get; private set; }

    public long LeafCount(PageSize size) => _leafCounts[size.LeafLevel() - 1];

    public IEnumerable<ModelLeaf> Leaves
    {
        get
        {
            foreach (ulong start in _starts) yield return _leaves[start];
        }
    }

    /// <summary>Page tables below the root that the current leaves need.</summary>
    public PageTableCounts ExpectedTables => new(_tableUsers[0].Count, _tableUsers[1].Count, _tableUsers[2].Count,
        Mode == PagingMode.FiveLevel ? _tableUsers[3].Count : 0);

    // ------------------------------------------------------------------ leaves

    public ModelLeaf? Covering(ulong va)
    {
        foreach (ulong size in new[] { GiB, 2 * MiB, Page })
        {
            if (_leaves.TryGetValue(va & ~(size - 1), out ModelLeaf? leaf) && leaf.End > va) return leaf;
        }
        return null;
    }

    /// <summary>The first leaf overlapping [start, end), in address order.</summary>
    public ModelLeaf? FirstOverlapping(ulong start, ulong end)
    {
        ModelLeaf? covering = Covering(start);
        if (covering is not null) return covering;
        if (start + 1 >= end) return null;
        return First(_starts.GetViewBetween(start + 1, end - 1));
    }

    /// <summary>The leaves overlapping [start, end), in address order.</summary>
    public List<ModelLeaf> Overlapping(ulong start, ulong end)
    {
        var result = new List<ModelLeaf>();
        if (Covering(start) is { } first && first.Va < start) result.Add(first);
        result.AddRange(Inside(start, end));
        return result;
    }

    /// <summary>The first leaf of a view (a view's Count walks it all, enumerating does not).</summary>
    private ModelLeaf? First(SortedSet<ulong> view)
    {
        foreach (ulong start in view) return _leaves[start];
        return null;
    }

    /// <summary>The first leaf starting at or after <paramref name="va"/>, if any.</summary>
    public ModelLeaf? AtOrAfter(ulong va)
    {
        return First(_starts.GetViewBetween(va, ulong.MaxValue));
    }

    /// <summary>End of the mapped stretch that contains <paramref name="va"/> (va itself when it is a hole),
    /// looking no further than <paramref name="limit"/>.</summary>
    public ulong MappedExtent(ulong va, ulong limit)
    {
        ulong a = va;
        while (a < limit)
        {
            ModelLeaf? leaf = Covering(a);
            if (leaf is null) break;
            a = leaf.End;
        }
        return a;
    }

    private void Add(ModelLeaf leaf)
    {
        _leaves.Add(leaf.Va, leaf);
        _starts.Add(leaf.Va);
        MappedBytes += leaf.Size;
        _leafCounts[leaf.PageSize.LeafLevel() - 1]++;
        foreach ((int level, ulong region) in Regions(leaf)) CountUser(level, region, +1);
    }

    private void Remove(ModelLeaf leaf)
    {
        _leaves.Remove(leaf.Va);
        _starts.Remove(leaf.Va);
        MappedBytes -= leaf.Size;
        _leafCounts[leaf.PageSize.LeafLevel() - 1]--;
        foreach ((int level, ulong region) in Regions(leaf)) CountUser(level, region, -1);
    }

    /// <summary>The tables a leaf needs: a PTE table for a 4 KiB leaf, a PMD table unless it is a 1 GiB leaf,
    /// always a PUD table, and (5-level) a P4D table.</summary>
    private static IEnumerable<(int Level, ulong Region)> Regions(ModelLeaf leaf)
    {
        if (leaf.Size == Page) yield return (0, leaf.Va >> 21);
        if (leaf.Size != GiB) yield return (1, leaf.Va >> 30);
        yield return (2, leaf.Va >> 39);
        yield return (3, leaf.Va >> 48);
    }

    private void CountUser(int level, ulong region, int delta)
    {
        Dictionary<ulong, int> users = _tableUsers[level];
        int n = users.GetValueOrDefault(region) + delta;
        if (n == 0) users.Remove(region);
        else users[region] = n;
    }

    /// <summary>Replaces a huge leaf by the 512 leaves one size down that translate exactly as it did.</summary>
    private void Split(ModelLeaf leaf)
    {
        ulong child = leaf.Size == GiB ? 2 * MiB : Page;
        Remove(leaf);
        for (ulong i = 0; i < 512; i++)
        {
            Add(new ModelLeaf
            {
                Va = leaf.Va + i * child, Size = child, Pa = leaf.Pa + i * child, Protection = leaf.Protection,
                Accessed = leaf.Accessed, Dirty = leaf.Dirty,
            });
        }
    }

    /// <summary>Splits until no leaf straddles <paramref name="boundary"/>.</summary>
    private void SplitAt(ulong boundary)
    {
        while (Covering(boundary) is { } leaf && leaf.Va != boundary) Split(leaf);
    }

    private List<ModelLeaf> Inside(ulong start, ulong end)
    {
        var result = new List<ModelLeaf>();
        if (start >= end) return result;
        foreach (ulong s in _starts.GetViewBetween(start, end - 1)) result.Add(_leaves[s]);
        return result;
    }

    // ------------------------------------------------------------------ argument rules

    public bool IsCanonical(ulong va)
    {
        int shift = Mode == PagingMode.FiveLevel ? 56 : 47;
        long top = (long)va >> shift;
        return top == 0 || top == -1;
    }

    /// <summary>The argument errors a request breaks (empty when none).</summary>
    public List<PagingError> ArgumentErrors(ulong va, ulong length, ulong alignment)
    {
        var errors = new List<PagingError>();
        if (FullCanonical)
        {
            // Both halves: a range may end exactly at 2^64; one that runs past it wraps, one that crosses the hole
            // is non-canonical.
            bool wraps = length != 0 && length - 1 > ulong.MaxValue - va;
            if (length == 0 || wraps) errors.Add(PagingError.InvalidArgument);
            if (!IsCanonical(va)) errors.Add(PagingError.NonCanonical);
            else if (length != 0 && !wraps)
            {
                ulong last = va + (length - 1);
                if (!IsCanonical(last) || (va < UserTop) != (last < UserTop)) errors.Add(PagingError.NonCanonical);
            }
            if (va % alignment != 0 || length % alignment != 0) errors.Add(PagingError.Misaligned);
            return errors;
        }
        if (length == 0 || va + length < va) errors.Add(PagingError.InvalidArgument);
        if (!IsCanonical(va)) errors.Add(PagingError.NonCanonical);
        else if (va >= UserTop || va + length > UserTop || va + length < va) errors.Add(PagingError.OutOfRange);
        if (va % alignment != 0 || length % alignment != 0) errors.Add(PagingError.Misaligned);
        return errors;
    }

    // ------------------------------------------------------------------ operations

    public Expectation Map(ulong va, ulong pa, ulong length, Protection protection, PageSize? size)
    {
        ulong alignment = size?.Bytes() ?? Page;
        List<PagingError> errors = ArgumentErrors(va, length, alignment);
        if (pa + length > MaxPhysicalAddress || pa + length < pa) errors.Add(PagingError.OutOfRange);
        if (pa % alignment != 0) errors.Add(PagingError.Misaligned);
        if (errors.Count > 0) return new Expectation([.. errors], va, null);

        ulong end = va + length;
        if (FirstOverlapping(va, end) is { } existing)
        {
            PagingError error = size is { } forced && existing.Size > forced.Bytes() ? PagingError.HugeParentEntry : PagingError.AlreadyMapped;
            return new Expectation([error], Math.Max(va, existing.Va), existing.ToMapping());
        }

        Protection granted = PagingFixtures.Normalized(protection);
        for (ulong a = va; a < end;)
        {
            ulong p = pa + (a - va);
            ulong leafSize = Page;
            foreach (ulong candidate in new[] { GiB, 2 * MiB })
            {
                bool allowed = size is null || size.Value.Bytes() == candidate;
                if (allowed && a % candidate == 0 && p % candidate == 0 && end - a >= candidate)
                {
                    leafSize = candidate;
                    break;
                }
            }
            if (size is { } forcedSize) leafSize = forcedSize.Bytes();
            Add(new ModelLeaf { Va = a, Size = leafSize, Pa = p, Protection = granted });
            a += leafSize;
        }
        return Expectation.Success;
    }

    /// <summary>Unmap or protect: every page must be mapped; the leaves the range cuts are split first.</summary>
    private Expectation Change(ulong va, ulong length, Action<ModelLeaf> change)
    {
        List<PagingError> errors = ArgumentErrors(va, length, Page);
        if (errors.Count > 0) return new Expectation([.. errors], va, null);
        ulong end = va + length;
        ulong reached = MappedExtent(va, end);
        if (reached < end) return new Expectation([PagingError.NotMapped], reached, null);
        SplitAt(va);
        SplitAt(end);
        foreach (ModelLeaf leaf in Inside(va, end)) change(leaf);
        return Expectation.Success;
    }

    public Expectation Unmap(ulong va, ulong length) => Change(va, length, Remove);

    public Expectation Protect(ulong va, ulong length, Protection protection)
    {
        Protection granted = PagingFixtures.Normalized(protection);
        return Change(va, length, leaf => leaf.Protection = granted);
    }

    /// <summary>The fault an access at <paramref name="va"/> takes, or null (and the leaf) when it is allowed.</summary>
    public FaultReason? Fault(ulong va, AccessKind access, out ModelLeaf? leaf)
    {
        leaf = null;
        if (!IsCanonical(va)) return FaultReason.NonCanonical;
        if (va > Last) return FaultReason.OutOfRange;
        leaf = Covering(va);
        if (leaf is null) return FaultReason.NotMapped;
        return leaf.Allows(access) ? null : FaultReason.ProtectionViolation;
    }

    /// <summary>Translates like the MMU: the outcome, and the Accessed/Dirty bits a permitted access sets.</summary>
    public ModelTranslation Translate(ulong va, AccessKind access)
    {
        FaultReason? fault = Fault(va, access, out ModelLeaf? leaf);
        if (fault is { } reason) return new ModelTranslation(new PageFault(V(va), access, reason), 0, default);
        Touch(leaf!, access);
        return new ModelTranslation(null, leaf!.Pa + (va - leaf.Va), leaf.PageSize);
    }

    private static void Touch(ModelLeaf leaf, AccessKind access)
    {
        leaf.Accessed = true;
        if (access == AccessKind.Write) leaf.Dirty = true;
    }

    /// <summary>The first fault of an access to [va, +length), checking every page before touching any.</summary>
    public PageFault? AccessFault(ulong va, ulong length, AccessKind access)
    {
        ulong last = va + length - 1;
        for (ulong page = va & ~(Page - 1); ; page += Page)
        {
            ulong at = Math.Max(page, va);
            if (Fault(at, access, out _) is { } reason) return new PageFault(V(at), access, reason);
            if (page >= (last & ~(Page - 1))) break;
        }
        return null;
    }

    /// <summary>Reads or writes [va, +buffer.Length) if no page faults; returns the fault otherwise.</summary>
    public PageFault? Access(ulong va, Span<byte> buffer, AccessKind access)
    {
        if (buffer.IsEmpty) return null;
        if (AccessFault(va, (ulong)buffer.Length, access) is { } fault) return fault;
        int done = 0;
        while (done < buffer.Length)
        {
            ulong at = va + (ulong)done;
            ModelLeaf leaf = Covering(at)!;
            Touch(leaf, access);
            ulong pa = leaf.Pa + (at - leaf.Va);
            int n = (int)Math.Min((ulong)(buffer.Length - done), Page - (at & (Page - 1)));
            Span<byte> part = buffer.Slice(done, n);
            int offset = (int)(pa & (Page - 1));
            if (access == AccessKind.Write)
            {
                if (!_frames.TryGetValue(pa >> 12, out byte[]? frame)) _frames[pa >> 12] = frame = new byte[Page];
                part.CopyTo(frame.AsSpan(offset));
            }
            else if (_frames.TryGetValue(pa >> 12, out byte[]? frame))
            {
                frame.AsSpan(offset, n).CopyTo(part);
            }
            else
            {
                part.Clear();
            }
            done += n;
        }
        return null;
    }

    /// <summary>Test-and-clear of Dirty or Accessed over [va, +length): reports every page in range whose leaf had
    /// the bit and clears it on the leaves wholly inside (a huge leaf cut by the range keeps it, or a dirty page
    /// outside the range would be lost).</summary>
    public long Collect(ulong va, ulong length, bool dirty, Span<ulong> bitmap)
    {
        ulong end = va + length;
        long pages = 0;
        bitmap[..(int)((length / Page + 63) / 64)].Clear();
        foreach (ModelLeaf leaf in Overlapping(va, end))
        {
            if (!(dirty ? leaf.Dirty : leaf.Accessed)) continue;
            ulong from = Math.Max(va, leaf.Va);
            ulong to = Math.Min(end, leaf.End);
            for (ulong a = from; a < to; a += Page)
            {
                ulong index = (a - va) / Page;
                bitmap[(int)(index / 64)] |= 1UL << (int)(index % 64);
                pages++;
            }
            if (leaf.Va >= va && leaf.End <= end)
            {
                if (dirty) leaf.Dirty = false;
                else leaf.Accessed = false;
            }
        }
        return pages;
    }
}
