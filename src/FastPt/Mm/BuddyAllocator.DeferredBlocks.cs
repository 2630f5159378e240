using System.Threading;

namespace FastPt.Mm;

/// <summary>Free max-order blocks of boot memory kept as ranges instead of on the free list
/// (<c>memblock_free_all</c> with deferred free-list insertion, in the spirit of the kernel's deferred page
/// init). Linking a block writes its head descriptor, and the heads of a 64 TiB machine's 65,000 free gigabytes lie
/// on 65,000 different memmap pages; kept as a few ranges they touch none. They count as free blocks of
/// <see cref="MaxOrder"/> in every counter and are found by every lookup; allocation takes the linked list first
/// and then the highest deferred block, which is the order in which the list would have handed them out (boot
/// pushed them in ascending order before anything else was freed).</summary>
internal sealed unsafe partial class BuddyAllocator
{
    /// <summary>Sorted, disjoint [start, end) frame ranges of whole free max-order blocks of ZONE_NORMAL; replaced
    /// whole under <see cref="_lock"/>, so lookups outside it see one consistent array.</summary>
    // Each new array is published with a release store after it was filled; lookups read it with an acquire load.
    private Range[] _deferredBlocks = [];

    private readonly record struct Range(ulong Start, ulong End);

    /// <summary>Free max-order blocks whose head descriptor was never written.</summary>
    public long DeferredBlocks
    {
        get
        {
            long blocks = 0;
            foreach (Range r in Volatile.Read(ref _deferredBlocks)) blocks += (long)((r.End - r.Start) >> MaxOrder);
            return blocks;
        }
    }

    /// <summary>True when a free block of <paramref name="order"/> is available in <paramref name="zone"/>.</summary>
    private bool HasFree(int zone, int order) =>
        _head[zone][order] != 0 || (order == MaxOrder && zone == (int)MemoryZone.Normal && _deferredBlocks.Length != 0);

    /// <summary>Takes the first free block of <paramref name="order"/> (the list's head, then the highest deferred
    /// block); the caller checked <see cref="HasFree"/>. Under the lock.</summary>
    private ulong TakeFirst(int zone, int order, ref DescriptorCursor cursor)
    {
        if (_head[zone][order] != 0)
        {
            ulong pfn = _head[zone][order] - 1;
            RemoveFromList(pfn, order, zone, ref cursor);
            return pfn;
        }
        Range[] ranges = _deferredBlocks;
        Range last = ranges[^1];
        ulong block = last.End - (1UL << MaxOrder);
        Range[] next = block == last.Start ? ranges[..^1] : [.. ranges[..^1], last with { End = block }];
        Volatile.Write(ref _deferredBlocks, next);
        _blocks[zone][MaxOrder]--;
        return block;
    }

    /// <summary>Takes the free block at <paramref name="head"/> out, linked or deferred. Under the lock.</summary>
    private void Unlink(ulong head, int order, int zone, ref DescriptorCursor cursor)
    {
        if (order != MaxOrder || !IsDeferredBlock(head))
        {
            RemoveFromList(head, order, zone, ref cursor);
            return;
        }
        Range[] ranges = _deferredBlocks;
        int i = FindDeferred(ranges, head);
        Range r = ranges[i];
        ulong after = head + (1UL << MaxOrder);
        Range[] pieces = (head > r.Start, after < r.End) switch
        {
            (true, true) => [r with { End = head }, r with { Start = after }],
            (true, false) => [r with { End = head }],
            (false, true) => [r with { Start = after }],
            _ => [],
        };
        Volatile.Write(ref _deferredBlocks, [.. ranges[..i], .. pieces, .. ranges[(i + 1)..]]);
        _blocks[zone][MaxOrder]--;
    }

    /// <summary>Adds the max-order blocks [<paramref name="start"/>, <paramref name="end"/>) of ZONE_NORMAL as
    /// deferred free blocks; their head descriptors must read as zero. Under the lock.</summary>
    private void DeferBlocks(ulong start, ulong end)
    {
        Range[] ranges = _deferredBlocks;
        int i = 0;
        while (i < ranges.Length && ranges[i].Start < start) i++;
        bool joinPrevious = i > 0 && ranges[i - 1].End == start;
        bool joinNext = i < ranges.Length && ranges[i].Start == end;
        var merged = new Range(joinPrevious ? ranges[i - 1].Start : start, joinNext ? ranges[i].End : end);
        Range[] next = [.. ranges[..(joinPrevious ? i - 1 : i)], merged, .. ranges[(joinNext ? i + 1 : i)..]];
        Volatile.Write(ref _deferredBlocks, next);
        long blocks = (long)((end - start) >> MaxOrder);
        _blocks[(int)MemoryZone.Normal][MaxOrder] += blocks;
        _stat.FreePages.Add(blocks << MaxOrder);
        _zoneFree[(int)MemoryZone.Normal] += blocks << MaxOrder;
    }

    /// <summary>True when <paramref name="head"/> starts a deferred free block.</summary>
    private bool IsDeferredBlock(ulong head) =>
        (head & ((1UL << MaxOrder) - 1)) == 0 && FindDeferred(Volatile.Read(ref _deferredBlocks), head) >= 0;

    private static int FindDeferred(Range[] ranges, ulong pfn)
    {
        int lo = 0, hi = ranges.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (pfn < ranges[mid].Start) hi = mid - 1;
            else if (pfn >= ranges[mid].End) lo = mid + 1;
            else return mid;
        }
        return -1;
    }
}
