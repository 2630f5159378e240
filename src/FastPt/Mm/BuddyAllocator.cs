using System;
using System.Threading;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>The binary buddy allocator (<c>mm/page_alloc.c</c>), orders 0 to 18 (4 KiB to 1 GiB). Free blocks
/// are kept on per-order lists threaded through the <em>head</em> descriptors only (PageBuddy, order in Private,
/// links in Lru), so freeing a terabyte at boot writes one descriptor per gigabyte. Frees coalesce with their
/// buddy while it is a free block of the same order.</summary>
internal sealed unsafe class BuddyAllocator
{
    public const int MaxOrder = 18;
    public const int Orders = MaxOrder + 1;

    private readonly Memmap _memmap;
    private readonly SparseMemory _sparse;
    private readonly PhysicalMemory _memory;
    private readonly bool _checked;
    private readonly Lock _lock = new();
    private readonly ulong[] _head = new ulong[Orders];
    private readonly long[] _blocks = new long[Orders];
    private long _freePages;
    private long _allocations;
    private long _frees;

    public BuddyAllocator(Memmap memmap, SparseMemory sparse, PhysicalMemory memory, bool checkedMode)
    {
        _memmap = memmap;
        _sparse = sparse;
        _memory = memory;
        _checked = checkedMode;
    }

    /// <summary>Free pages in all orders (<c>nr_free_pages</c>).</summary>
    public long FreePages => Volatile.Read(ref _freePages);

    /// <summary>Free blocks of <paramref name="order"/> (a column of <c>/proc/buddyinfo</c>).</summary>
    public long FreeBlocks(int order) => Volatile.Read(ref _blocks[order]);

    public long Allocations => Volatile.Read(ref _allocations);

    public long Frees => Volatile.Read(ref _frees);

    /// <summary>Allocates 2^<paramref name="order"/> contiguous, naturally aligned frames. The head descriptor gets
    /// a reference; the frames are zeroed when <paramref name="zero"/> is set (a frame never written is already
    /// zero and costs nothing).</summary>
    public bool TryAllocate(int order, bool zero, out ulong pfn)
    {
        if ((uint)order > MaxOrder) throw new ArgumentOutOfRangeException(nameof(order));
        lock (_lock)
        {
            int current = order;
            while (current <= MaxOrder && _head[current] == 0) current++;
            if (current > MaxOrder)
            {
                pfn = 0;
                return false;
            }
            pfn = _head[current] - 1;
            RemoveFromList(pfn, current);
            // Expand: give back the upper halves (__rmqueue_smallest / expand).
            while (current > order)
            {
                current--;
                AddToList(pfn + (1UL << current), current);
            }
            PageDescriptor* d = _memmap.GetMutable(pfn);
            d->Flags = PageFlags.Allocated;
            d->RefCount = 1;
            d->Private = 0;
            _freePages -= 1L << order;
            _allocations++;
        }
        if (_checked) ClearPoison(pfn, order);
        if (zero) _memory.Fill(pfn << 12, 4096UL << order, 0);
        return true;
    }

    /// <summary>Allocates <paramref name="pfns"/>.Length single frames under one lock acquisition; all or none.</summary>
    public bool TryAllocateBulk(Span<ulong> pfns, bool zero)
    {
        int done = 0;
        for (; done < pfns.Length; done++)
        {
            if (!TryAllocate(0, zero, out pfns[done])) break;
        }
        if (done == pfns.Length) return true;
        for (int i = 0; i < done; i++) Free(pfns[i], 0);
        return false;
    }

    /// <summary>Frees a block allocated with <see cref="TryAllocate"/> (or a reserved block leaving boot
    /// ownership), coalescing with free buddies (<c>__free_one_page</c>).</summary>
    public void Free(ulong pfn, int order)
    {
        if ((uint)order > MaxOrder || (pfn & ((1UL << order) - 1)) != 0)
            throw new ArgumentException($"bad free of pfn 0x{pfn:x} order {order}");
        PageDescriptor* head = _memmap.GetMutable(pfn);
        if ((head->Flags & (PageFlags.Allocated | PageFlags.Reserved)) == 0)
            throw new InvalidOperationException($"bad free of pfn 0x{pfn:x}: the frame is not allocated (double free?)");
        if (_checked && order <= 9)
        {
            // Poison the contents and mark every frame, so that anything still reaching it is caught.
            _memory.Fill(pfn << 12, 4096UL << order, 0x6b);
            for (ulong p = pfn; p < pfn + (1UL << order); p++) _memmap.GetMutable(p)->Flags |= PageFlags.Poisoned;
        }
        lock (_lock)
        {
            head->Flags &= PageFlags.Poisoned;
            head->RefCount = 0;
            head->Private = 0;
            head->Mapping = 0;
            FreeLocked(pfn, order);
            _frees++;
        }
    }

    /// <summary>Hands [<paramref name="startPfn"/>, <paramref name="endPfn"/>) to the allocator as the largest
    /// aligned blocks that fit (<c>memblock_free_all</c>, <c>online_pages</c>).</summary>
    public void FreeRange(ulong startPfn, ulong endPfn)
    {
        lock (_lock)
        {
            ulong pfn = startPfn;
            while (pfn < endPfn)
            {
                int order = LargestOrder(pfn, endPfn);
                PageDescriptor* d = _memmap.GetMutable(pfn);
                d->Flags = 0;
                d->RefCount = 0;
                FreeLocked(pfn, order);
                pfn += 1UL << order;
            }
        }
    }

    /// <summary>True when the frame is inside a free block.</summary>
    public bool IsFree(ulong pfn) => FindFreeBlock(pfn, out _, out _);

    /// <summary>True when every frame of [startPfn, endPfn) is free.</summary>
    public bool IsRangeFree(ulong startPfn, ulong endPfn, out ulong firstBusy)
    {
        lock (_lock)
        {
            ulong pfn = startPfn;
            while (pfn < endPfn)
            {
                if (!FindFreeBlock(pfn, out ulong head, out int order))
                {
                    firstBusy = pfn;
                    return false;
                }
                pfn = head + (1UL << order);
            }
        }
        firstBusy = 0;
        return true;
    }

    /// <summary>Takes every free frame of [startPfn, endPfn) out of the allocator, giving back the parts of any
    /// straddling block that lie outside (<c>__offline_isolated_pages</c>). Frames of the range that are not free
    /// are skipped; the caller checked they are allowed to be.</summary>
    public long Isolate(ulong startPfn, ulong endPfn)
    {
        long taken = 0;
        lock (_lock)
        {
            ulong pfn = startPfn;
            while (pfn < endPfn)
            {
                if (!FindFreeBlock(pfn, out ulong head, out int order))
                {
                    pfn++;
                    continue;
                }
                ulong blockEnd = head + (1UL << order);
                RemoveFromList(head, order);
                _freePages -= 1L << order;
                // Return what lies outside the range.
                GiveBack(head, Math.Max(head, Math.Min(startPfn, blockEnd)));
                GiveBack(Math.Min(blockEnd, Math.Max(endPfn, head)), blockEnd);
                ulong inStart = Math.Max(head, startPfn), inEnd = Math.Min(blockEnd, endPfn);
                taken += (long)(inEnd - inStart);
                pfn = blockEnd;
            }
        }
        return taken;
    }

    private void GiveBack(ulong start, ulong end)
    {
        ulong pfn = start;
        while (pfn < end)
        {
            int order = LargestOrder(pfn, end);
            FreeLocked(pfn, order);
            pfn += 1UL << order;
        }
    }

    private void ClearPoison(ulong pfn, int order)
    {
        for (ulong p = pfn; p < pfn + (1UL << order); p++)
        {
            PageDescriptor* d = _memmap.Get(p);
            if ((d->Flags & PageFlags.Poisoned) != 0) _memmap.GetMutable(p)->Flags &= ~PageFlags.Poisoned;
        }
    }

    private static int LargestOrder(ulong pfn, ulong end)
    {
        int order = MaxOrder;
        while (order > 0 && ((pfn & ((1UL << order) - 1)) != 0 || pfn + (1UL << order) > end)) order--;
        return order;
    }

    private bool FindFreeBlock(ulong pfn, out ulong head, out int order)
    {
        for (int o = 0; o <= MaxOrder; o++)
        {
            ulong candidate = pfn & ~((1UL << o) - 1);
            if (!_sparse.PfnValid(candidate)) continue;
            PageDescriptor* d = _memmap.Get(candidate);
            if ((d->Flags & PageFlags.Buddy) != 0 && (int)d->Private == o)
            {
                head = candidate;
                order = o;
                return true;
            }
        }
        head = 0;
        order = 0;
        return false;
    }

    private void FreeLocked(ulong pfn, int order)
    {
        _freePages += 1L << order;
        while (order < MaxOrder)
        {
            ulong buddy = pfn ^ (1UL << order);
            if (!_sparse.PfnValid(buddy)) break;
            PageDescriptor* b = _memmap.Get(buddy);
            if ((b->Flags & PageFlags.Buddy) == 0 || (int)b->Private != order) break;
            RemoveFromList(buddy, order);
            pfn &= ~(1UL << order);
            order++;
        }
        AddToList(pfn, order);
    }

    private void AddToList(ulong pfn, int order)
    {
        PageDescriptor* d = _memmap.GetMutable(pfn);
        d->Flags = PageFlags.Buddy | (d->Flags & PageFlags.Poisoned);
        d->Private = (ulong)order;
        d->LruPrev = 0;
        d->LruNext = _head[order];
        if (_head[order] != 0) _memmap.GetMutable(_head[order] - 1)->LruPrev = pfn + 1;
        _head[order] = pfn + 1;
        _blocks[order]++;
    }

    private void RemoveFromList(ulong pfn, int order)
    {
        PageDescriptor* d = _memmap.GetMutable(pfn);
        ulong prev = d->LruPrev, next = d->LruNext;
        if (prev != 0) _memmap.GetMutable(prev - 1)->LruNext = next;
        else _head[order] = next;
        if (next != 0) _memmap.GetMutable(next - 1)->LruPrev = prev;
        d->Flags &= ~PageFlags.Buddy;
        d->Private = 0;
        d->LruNext = 0;
        d->LruPrev = 0;
        _blocks[order]--;
    }
}
