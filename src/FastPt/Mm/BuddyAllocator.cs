using System;
using System.Collections.Generic;
using System.Threading;
using FastPt.Hardware;
using FastPt.Internals;

namespace FastPt.Mm;

/// <summary>The zones the allocator keeps.</summary>
internal enum MemoryZone
{
    /// <summary>ZONE_NORMAL: boot memory; serves every allocation.</summary>
    Normal = 0,

    /// <summary>ZONE_MOVABLE: serves only movable (user data) allocations, so its memory can always be offlined.</summary>
    Movable = 1,
}

/// <summary>Outcome of <see cref="BuddyAllocator.TryFreeUser"/>.</summary>
internal enum UserFree
{
    /// <summary>The block went back to the allocator.</summary>
    Freed,

    /// <summary>The frame is not the head of an allocated block (free already, a tail, never allocated).</summary>
    NotAllocated,

    /// <summary>The frame is allocated, but not as user data (a page table, memmap, boot memory).</summary>
    NotUserData,

    /// <summary>The frame heads a user block of another order.</summary>
    WrongSize,
}

/// <summary>Outcome of <see cref="BuddyAllocator.TryOffline"/>.</summary>
internal enum OfflineResult
{
    /// <summary>The range left the allocator and the reserve was taken.</summary>
    Offlined,

    /// <summary>A frame of the range is in use; nothing changed.</summary>
    Busy,

    /// <summary>ZONE_NORMAL has too few frames outside the range for the reserve; nothing changed.</summary>
    NoFrames,
}

/// <summary>The binary buddy allocator (<c>mm/page_alloc.c</c>), orders 0 to 18 (4 KiB to 1 GiB), with two zones:
/// ZONE_NORMAL (boot memory; every kernel allocation: page tables, memmap) and ZONE_MOVABLE (hot-added memory by
/// default; only movable user data), which is what keeps hot-added memory removable. Free blocks are kept on
/// per-zone, per-order lists threaded through the <em>head</em> descriptors only (PageBuddy, order in Private, links
/// in Lru), so freeing a terabyte writes one descriptor per gigabyte (boot writes none: it keeps its max-order
/// blocks as ranges). Frees coalesce with their buddy while it is a free block of the same order in the same
/// zone.</summary>
internal sealed unsafe partial class BuddyAllocator
{
    public const int MaxOrder = 18;
    public const int Orders = MaxOrder + 1;

    private readonly Memmap _memmap;
    private readonly SparseMemory _sparse;
    private readonly PhysicalMemory _memory;
    private readonly bool _checked;
    private readonly Vmstat _stat; // nr_free_pages lives there, where the Meter reads it
    private readonly Lock _lock = new();
    private readonly ulong[][] _head = [new ulong[Orders], new ulong[Orders]];
    private readonly long[][] _blocks = [new long[Orders], new long[Orders]];
    private readonly long[] _zoneFree = new long[2];
    // Managed pages per zone: read by every fault (populated_zone), written only by onlining and offlining. Each
    // cell sits 128 bytes (a line and its prefetch pair) from anything else in its array, so the zone counts that
    // refills write under the zone lock — allocated next to it — never share its line: struct zone keeps its
    // read-mostly part apart from free_area and the lock the same way (CACHELINE_PADDING).
    private const int ManagedStride = 16;
    private readonly long[] _zoneManaged = new long[3 * ManagedStride + 1]; // cells at 16 and 32, 128 bytes on either side
    private long _managedPages;
    private long _reservedPagesFreed;
    private long _allocations;
    private long _frees;

    public BuddyAllocator(Memmap memmap, SparseMemory sparse, PhysicalMemory memory, Vmstat stat, bool checkedMode)
    {
        _stat = stat;
        _memmap = memmap;
        _sparse = sparse;
        _memory = memory;
        _checked = checkedMode;
    }

    /// <summary>Free pages in all orders, the per-CPU lists' included (see <see cref="PerCpuPages"/>). A per-CPU
    /// counter (Linux keeps <c>NR_FREE_PAGES</c> with per-CPU deltas too): the per-CPU lists change it on every
    /// demand fault, outside the zone lock, and one shared word would bounce between the faulting CPUs. Exact
    /// whenever no allocation or free is in flight.</summary>
    public long FreePages => _stat.FreePages.Value;

    /// <summary>Pages the allocator manages (<c>zone->managed_pages</c>): onlined or freed from boot reservations,
    /// minus offlined ones.</summary>
    public long ManagedPages => Volatile.Read(ref _managedPages);

    /// <summary>Boot-reserved pages handed to the allocator later (<c>free_reserved_page</c>).</summary>
    public long ReservedPagesFreed => Volatile.Read(ref _reservedPagesFreed);

    /// <summary>Free blocks of <paramref name="order"/> on the buddy lists of both zones (a column of
    /// <c>/proc/buddyinfo</c>; frames on the per-CPU lists are not in it).</summary>
    public long FreeBlocks(int order) => Volatile.Read(ref _blocks[0][order]) + Volatile.Read(ref _blocks[1][order]);

    /// <summary>Free pages of one zone, its frames on the per-CPU lists included.</summary>
    public long ZoneFreePages(MemoryZone zone) => Volatile.Read(ref _zoneFree[(int)zone]) + PcpCount((int)zone);

    /// <summary>Managed pages of one zone.</summary>
    public long ZoneManagedPages(MemoryZone zone) => Volatile.Read(ref Managed((int)zone));

    private ref long Managed(int zone) => ref _zoneManaged[(zone + 1) * ManagedStride];

    /// <summary>The array of the managed-pages cells and the index of a zone's cell (for layout tests).</summary>
    internal (long[] Cells, int Index) ManagedCell(MemoryZone zone) => (_zoneManaged, ((int)zone + 1) * ManagedStride);

    private int ZoneOf(ulong pfn) => _sparse.IsMovable(pfn) ? (int)MemoryZone.Movable : (int)MemoryZone.Normal;

    public long Allocations => Volatile.Read(ref _allocations) + PcpAllocations();

    public long Frees => Volatile.Read(ref _frees) + PcpFrees();

    /// <summary>Allocates 2^<paramref name="order"/> contiguous, naturally aligned frames. The head descriptor gets
    /// a reference; the frames are zeroed when <paramref name="zero"/> is set (a frame never written is already
    /// zero and costs nothing). A single frame the buddy lists cannot give is looked for on the per-CPU lists
    /// (drained, then tried again), and a movable one takes ZONE_MOVABLE's frames there before ZONE_NORMAL's, so
    /// the outcome is the one without per-CPU lists.</summary>
    public bool TryAllocate(int order, bool zero, out ulong pfn, bool movable = false)
    {
        if ((uint)order > MaxOrder) ThrowHelper.ThrowArgumentOutOfRange(nameof(order));
        if (order == 0 && movable && Volatile.Read(ref _zoneFree[(int)MemoryZone.Movable]) == 0 && PcpCount((int)MemoryZone.Movable) != 0)
            DrainAll((int)MemoryZone.Movable);
        if (TryAllocateBuddy(order, zero, out pfn, movable)) return true;
        return order == 0 && DrainFor(movable) && TryAllocateBuddy(order, zero, out pfn, movable);
    }

    /// <summary><see cref="TryAllocate"/> from the buddy lists alone (safe under the zone lock).</summary>
    private bool TryAllocateBuddy(int order, bool zero, out ulong pfn, bool movable)
    {
        lock (_lock)
        {
            // The zonelist: movable allocations try ZONE_MOVABLE first, everything may use ZONE_NORMAL.
            int zone = (int)MemoryZone.Normal;
            int current = MaxOrder + 1;
            if (movable)
            {
                zone = (int)MemoryZone.Movable;
                current = SmallestFree(zone, order);
            }
            if (current > MaxOrder)
            {
                zone = (int)MemoryZone.Normal;
                current = SmallestFree(zone, order);
            }
            if (current > MaxOrder)
            {
                pfn = 0;
                return false;
            }
            DescriptorCursor cursor = default;
            pfn = TakeFirst(zone, current, ref cursor);
            // Expand: give back the upper halves (__rmqueue_smallest / expand).
            while (current > order)
            {
                current--;
                AddToList(pfn + (1UL << current), current, zone, ref cursor);
            }
            _zoneFree[zone] -= 1L << order;
            PageDescriptor* d = _memmap.GetMutableCached(pfn, ref cursor);
            d->Flags = PageFlags.Allocated;
            d->RefCount = 1;
            d->Private = 0;
            _stat.FreePages.Add(-(1L << order));
            _allocations++;
        }
        if (_checked) ClearPoison(pfn, order);
        if (zero) _memory.Fill(pfn << 12, 4096UL << order, 0);
        return true;
    }

    /// <summary>Allocates <paramref name="pfns"/>.Length single kernel frames (ZONE_NORMAL) under one lock
    /// acquisition; all or none.</summary>
    public bool TryAllocateBulk(Span<ulong> pfns, bool zero) => TryAllocateKernel([], 0, pfns, zero);

    /// <summary>Blocks of <paramref name="order"/> that kernel allocations could take from ZONE_NORMAL now, a
    /// larger free block counting for every block it splits into.</summary>
    public long KernelBlocksFree(int order)
    {
        lock (_lock) return KernelBlocksFreeLocked(order) + (order == 0 ? PcpCount((int)MemoryZone.Normal) : 0);
    }

    private long KernelBlocksFreeLocked(int order)
    {
        long blocks = 0;
        long[] counts = _blocks[(int)MemoryZone.Normal];
        for (int o = order; o <= MaxOrder; o++) blocks += counts[o] << (o - order);
        return blocks;
    }

    /// <summary>Kernel memory (ZONE_NORMAL) taken all or nothing under one lock acquisition:
    /// <paramref name="blocks"/>.Length blocks of <paramref name="blockOrder"/>, then
    /// <paramref name="frames"/>.Length single frames. The decision is made before anything is taken, so a refusal
    /// takes nothing and frees nothing: a block can be had while ZONE_NORMAL's buddy lists hold a free block at
    /// least that large, and a single frame whenever it has a free page (on the per-CPU lists too: they are
    /// drained first when the buddy lists are short).</summary>
    public bool TryAllocateKernel(Span<ulong> blocks, int blockOrder, Span<ulong> frames, bool zero)
    {
        if ((uint)blockOrder > MaxOrder) throw new ArgumentOutOfRangeException(nameof(blockOrder));
        for (int attempt = 0; ; attempt++)
        {
            lock (_lock)
            {
                if (blocks.Length > 0 && KernelBlocksFreeLocked(blockOrder) < blocks.Length) return false;
                long left = _zoneFree[(int)MemoryZone.Normal] - ((long)blocks.Length << blockOrder);
                if (left >= frames.Length)
                {
                    for (int i = 0; i < blocks.Length; i++) Take(blockOrder, out blocks[i]);
                    for (int i = 0; i < frames.Length; i++) Take(0, out frames[i]);
                    break;
                }
                if (attempt == 4 || left + PcpCount((int)MemoryZone.Normal) < frames.Length) return false;
            }
            // Enough free with the per-CPU lists' frames: drain them (lock order: lists before the zone lock).
            DrainAll((int)MemoryZone.Normal);
        }
        if (zero)
        {
            foreach (ulong pfn in blocks) _memory.Fill(pfn << 12, 4096UL << blockOrder, 0);
            foreach (ulong pfn in frames) _memory.Fill(pfn << 12, 4096, 0);
        }
        return true;
    }

    private void Take(int order, out ulong pfn)
    {
        if (!TryAllocateBuddy(order, zero: false, out pfn, movable: false))
            throw new InvalidOperationException("ZONE_NORMAL counted free memory it could not hand out");
    }

    /// <summary>Allocates a block of user data (<c>Machine.AllocatePhysical</c>): movable, zeroed, and its head
    /// records that it is user data and its order, so that <see cref="TryFreeUser"/> can check what comes
    /// back.</summary>
    public bool TryAllocateUser(int order, out ulong pfn)
    {
        if (!TryAllocate(order, zero: true, out pfn, movable: true)) return false;
        PageDescriptor* head = _memmap.GetMutable(pfn);
        lock (_lock)
        {
            head->Flags |= PageFlags.UserData;
            head->Private = (ulong)order;
        }
        return true;
    }

    /// <summary>Frees a block from <see cref="TryAllocateUser"/> if <paramref name="pfn"/> is the head of one of
    /// exactly <paramref name="order"/>; anything else (a frame that is free, a tail, a kernel frame, another
    /// size) is refused with nothing changed. <paramref name="allocatedOrder"/> is the block's real order when it
    /// is a user block of another size, else -1.</summary>
    public UserFree TryFreeUser(ulong pfn, int order, out int allocatedOrder)
    {
        allocatedOrder = -1;
        if ((uint)order > MaxOrder || (pfn & ((1UL << order) - 1)) != 0) return UserFree.NotAllocated;
        PageDescriptor* head = _memmap.GetMutable(pfn);
        lock (_lock)
        {
            if ((head->Flags & (PageFlags.Reserved | PageFlags.Table | PageFlags.VmemmapSelfHosted)) != 0) return UserFree.NotUserData;
            if ((head->Flags & PageFlags.Allocated) == 0) return UserFree.NotAllocated;
            if ((head->Flags & PageFlags.UserData) == 0) return UserFree.NotUserData;
            if (head->Private != (ulong)order)
            {
                allocatedOrder = (int)head->Private;
                return UserFree.WrongSize;
            }
            // Claimed: a racing second free of the same block is refused from here on.
            head->Flags &= ~PageFlags.UserData;
            head->Private = 0;
        }
        Free(pfn, order);
        return UserFree.Freed;
    }

    /// <summary><c>split_page</c>: turns an allocated block of 2^<paramref name="order"/> frames into as many
    /// allocated single frames, each freed on its own later (a transparent huge page whose mapping was split).</summary>
    public void SplitPage(ulong pfn, int order)
    {
        PageDescriptor* head = _memmap.Get(pfn);
        if ((head->Flags & PageFlags.Allocated) == 0)
            throw new InvalidOperationException($"split_page of pfn 0x{pfn:x}, which is not allocated");
        for (ulong p = pfn + 1; p < pfn + (1UL << order); p++)
        {
            PageDescriptor* d = _memmap.GetMutable(p);
            d->Flags = PageFlags.Allocated;
            d->RefCount = 1;
        }
    }

    /// <summary>Frees a block allocated with <see cref="TryAllocate"/> (or a reserved block leaving boot
    /// ownership), coalescing with free buddies (<c>__free_one_page</c>).</summary>
    public void Free(ulong pfn, int order)
    {
        if ((uint)order > MaxOrder || (pfn & ((1UL << order) - 1)) != 0)
            ThrowHelper.ThrowBadFree(pfn, order);
        PageDescriptor* head = _memmap.GetMutable(pfn);
        if ((head->Flags & (PageFlags.Allocated | PageFlags.Reserved)) == 0)
            ThrowHelper.ThrowDoubleFree(pfn);
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

    /// <summary>Frees frames that were reserved at boot (memblock allocations: boot page tables, boot memmap)
    /// into the allocator: <c>free_reserved_page</c> for each. They become managed pages.</summary>
    public void FreeReserved(ulong pfn, int order)
    {
        ulong count = 1UL << order;
        for (ulong p = pfn; p < pfn + count; p++)
        {
            PageDescriptor* d = _memmap.GetMutable(p);
            if ((d->Flags & PageFlags.Reserved) == 0)
                ThrowHelper.ThrowNotReserved(p);
            d->Flags &= ~(PageFlags.Reserved | PageFlags.BootMemory);
            d->RefCount = 0;
        }
        Interlocked.Add(ref _reservedPagesFreed, (long)count);
        FreeRange(pfn, pfn + count);
    }

    /// <summary>Hands [<paramref name="startPfn"/>, <paramref name="endPfn"/>) to the allocator as the largest
    /// aligned blocks that fit (<c>memblock_free_all</c>, <c>online_pages</c>); they become managed pages. Boot
    /// sets <paramref name="deferMaxOrder"/>: its max-order blocks of ZONE_NORMAL, whose descriptors are still
    /// untouched zeros, are kept as ranges instead of being linked one head at a time.</summary>
    public void FreeRange(ulong startPfn, ulong endPfn, bool deferMaxOrder = false)
    {
        lock (_lock)
        {
            _managedPages += (long)(endPfn - startPfn);
            ulong pfn = startPfn;
            while (pfn < endPfn)
            {
                int order = LargestOrder(pfn, endPfn);
                int zone = ZoneOf(pfn);
                Managed(zone) += 1L << order;
                if (deferMaxOrder && order == MaxOrder && zone == (int)MemoryZone.Normal)
                {
                    ulong end = pfn + (1UL << MaxOrder);
                    while (end + (1UL << MaxOrder) <= endPfn && ZoneOf(end) == zone)
                    {
                        Managed(zone) += 1L << MaxOrder;
                        end += 1UL << MaxOrder;
                    }
                    DeferBlocks(pfn, end);
                    pfn = end;
                    continue;
                }
                PageDescriptor* d = _memmap.GetMutable(pfn);
                d->Flags = 0;
                d->RefCount = 0;
                FreeLocked(pfn, order);
                pfn += 1UL << order;
            }
        }
    }

    /// <summary>True when the frame is inside a free block or on a per-CPU list.</summary>
    public bool IsFree(ulong pfn) => FindFreeBlock(pfn, out _, out _) || OnPcpList(pfn);

    /// <summary>True when every frame of [startPfn, endPfn) is free (per-CPU lists included).</summary>
    public bool IsRangeFree(ulong startPfn, ulong endPfn, out ulong firstBusy)
    {
        List<Pcp> lists = LockAll();
        try
        {
            lock (_lock) return IsRangeFreeLocked(startPfn, endPfn, out firstBusy, PcpFramesIn(lists, startPfn, endPfn));
        }
        finally
        {
            UnlockAll(lists);
        }
    }

    private bool IsRangeFreeLocked(ulong startPfn, ulong endPfn, out ulong firstBusy, HashSet<ulong> onPcpLists)
    {
        ulong pfn = startPfn;
        while (pfn < endPfn)
        {
            if (!FindFreeBlock(pfn, out ulong head, out int order))
            {
                if (onPcpLists.Contains(pfn))
                {
                    pfn++;
                    continue;
                }
                firstBusy = pfn;
                return false;
            }
            pfn = head + (1UL << order);
        }
        firstBusy = 0;
        return true;
    }

    /// <summary><c>offline_pages</c>' isolate, test and take as one step under the allocator lock (and every
    /// per-CPU list's lock), so nothing can be handed out between the test and the take: when every frame of
    /// [startPfn, endPfn) outside [keepStart, keepEnd) (an altmap's memmap, which the range hosts for itself) is
    /// free — on the buddy lists or a per-CPU list — and ZONE_NORMAL has <paramref name="reserve"/>.Length frames
    /// outside the range, the per-CPU lists are drained, those frames leave the allocator and the reserve is taken
    /// (zeroed kernel frames: the tables the removal needs). Otherwise nothing changes and the result says why
    /// (<paramref name="firstBusy"/> is the first frame in use).</summary>
    public OfflineResult TryOffline(ulong startPfn, ulong endPfn, ulong keepStart, ulong keepEnd, Span<ulong> reserve, out ulong firstBusy)
    {
        if (startPfn > keepStart || keepStart > keepEnd || keepEnd > endPfn)
            throw new ArgumentException("the kept range must lie inside the range");
        List<Pcp> lists = LockAll();
        try
        {
            lock (_lock)
            {
                HashSet<ulong> onPcpLists = PcpFramesIn(lists, startPfn, endPfn);
                if (!IsRangeFreeLocked(startPfn, keepStart, out firstBusy, onPcpLists) || !IsRangeFreeLocked(keepEnd, endPfn, out firstBusy, onPcpLists))
                    return OfflineResult.Busy;
                long normalInRange = NormalPages(startPfn, keepStart) + NormalPages(keepEnd, endPfn);
                if (_zoneFree[(int)MemoryZone.Normal] + PcpCount((int)MemoryZone.Normal) - normalInRange < reserve.Length) return OfflineResult.NoFrames;
                // Decided: every list back to the buddy lists first, so the range's frames are all in free blocks.
                foreach (Pcp pcp in lists)
                {
                    DrainUnderZoneLock(pcp, (int)MemoryZone.Normal, int.MaxValue);
                    DrainUnderZoneLock(pcp, (int)MemoryZone.Movable, int.MaxValue);
                }
                Isolate(startPfn, keepStart);
                Isolate(keepEnd, endPfn);
                for (int i = 0; i < reserve.Length; i++) Take(0, out reserve[i]);
            }
        }
        finally
        {
            UnlockAll(lists);
        }
        foreach (ulong pfn in reserve) _memory.Fill(pfn << 12, 4096, 0);
        return OfflineResult.Offlined;
    }

    /// <summary>Frames of [startPfn, endPfn) in ZONE_NORMAL (zones are per section).</summary>
    private long NormalPages(ulong startPfn, ulong endPfn)
    {
        long pages = 0;
        for (ulong pfn = startPfn; pfn < endPfn;)
        {
            ulong next = Math.Min(endPfn, (SparseMemory.SectionOf(pfn) + 1) << SparseMemory.PfnSectionShift);
            if (ZoneOf(pfn) == (int)MemoryZone.Normal) pages += (long)(next - pfn);
            pfn = next;
        }
        return pages;
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
                int zone = ZoneOf(head);
                DescriptorCursor cursor = default;
                Unlink(head, order, zone, ref cursor);
                _stat.FreePages.Add(-(1L << order));
                _zoneFree[zone] -= 1L << order;
                // Return what lies outside the range.
                GiveBack(head, Math.Max(head, Math.Min(startPfn, blockEnd)));
                GiveBack(Math.Min(blockEnd, Math.Max(endPfn, head)), blockEnd);
                ulong inStart = Math.Max(head, startPfn), inEnd = Math.Min(blockEnd, endPfn);
                taken += (long)(inEnd - inStart);
                Managed(zone) -= (long)(inEnd - inStart);
                pfn = blockEnd;
            }
            _managedPages -= taken;
        }
        return taken;
    }

    private int SmallestFree(int zone, int order)
    {
        int current = order;
        while (current <= MaxOrder && !HasFree(zone, current)) current++;
        return current;
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
            if (((d->Flags & PageFlags.Buddy) != 0 && (int)d->Private == o) || (o == MaxOrder && IsDeferredBlock(candidate)))
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
        _stat.FreePages.Add(1L << order);
        DescriptorCursor cursor = default;
        FreeBlockLocked(pfn, order, ZoneOf(pfn), ref cursor);
    }

    /// <summary>Puts a block on the zone's buddy lists, coalescing; the caller counted it as a free page. The
    /// descriptors are reached through <paramref name="cursor"/> (a drain passes one cursor for its whole batch).</summary>
    private void FreeBlockLocked(ulong pfn, int order, int zone, ref DescriptorCursor cursor)
    {
        _zoneFree[zone] += 1L << order;
        Coalesce(pfn, order, zone, _head[zone], _blocks[zone], ref cursor);
    }

    /// <summary>The merge of a free block with its free buddies and the link of the result onto its list
    /// (<paramref name="heads"/> and <paramref name="blocks"/> are the zone's list heads and block counts), for
    /// <see cref="FreeBlockLocked"/> and a drain's <see cref="FreeFramesLocked"/>.</summary>
    private void Coalesce(ulong pfn, int order, int zone, ulong[] heads, long[] blocks, ref DescriptorCursor cursor)
    {
        while (order < MaxOrder)
        {
            ulong buddy = pfn ^ (1UL << order);
            // A buddy below a subsection (512 frames: order 9 and up reach past it) shares its frame's
            // subsection, so it is valid and in its zone (zones are per section) whenever the frame is.
            if (order >= SparseMemory.PfnSubsectionShift && (!_sparse.PfnValid(buddy) || ZoneOf(buddy) != zone)) break;
            PageDescriptor* b = _memmap.GetCached(buddy, ref cursor);
            if ((b->Flags & PageFlags.Buddy) == 0 || (int)b->Private != order) break;
            RemoveFromList(buddy, order, heads, blocks, ref cursor);
            pfn &= ~(1UL << order);
            order++;
        }
        AddToList(pfn, order, heads, blocks, ref cursor);
    }

    /// <summary>Single frames onto the zone's buddy lists in order, coalescing: <see cref="FreeBlockLocked"/> of
    /// each at order 0, with the zone's lists and counts looked up once (the body of a drain). The caller counted
    /// them as free pages.</summary>
    private void FreeFramesLocked(ReadOnlySpan<ulong> frames, int zone)
    {
        ulong[] heads = _head[zone];
        long[] blocks = _blocks[zone];
        _zoneFree[zone] += frames.Length;
        DescriptorCursor cursor = default;
        foreach (ulong frame in frames) Coalesce(frame, 0, zone, heads, blocks, ref cursor);
    }

    private void AddToList(ulong pfn, int order, int zone, ref DescriptorCursor cursor) =>
        AddToList(pfn, order, _head[zone], _blocks[zone], ref cursor);

    private void RemoveFromList(ulong pfn, int order, int zone, ref DescriptorCursor cursor) =>
        RemoveFromList(pfn, order, _head[zone], _blocks[zone], ref cursor);

    /// <summary>Links a free block at the head of its list; <paramref name="head"/> and <paramref name="blocks"/>
    /// are its zone's list heads and block counts.</summary>
    private void AddToList(ulong pfn, int order, ulong[] head, long[] blocks, ref DescriptorCursor cursor)
    {
        PageDescriptor* d = _memmap.GetMutableCached(pfn, ref cursor);
        // A store before the first load: splitting fresh memory reaches descriptor pages the host never backed, and
        // a load there maps the shared zero page, so the store after it would take a second host fault.
        d->Private = (ulong)order;
        d->Flags = PageFlags.Buddy | (d->Flags & PageFlags.Poisoned);
        d->LruPrev = 0;
        // Links are shifted left so bit 0 stays clear: in lru.next it would mark a compound tail.
        d->LruNext = head[order] << 1;
        if (head[order] != 0) _memmap.GetMutableCached(head[order] - 1, ref cursor)->LruPrev = pfn + 1;
        head[order] = pfn + 1;
        blocks[order]++;
    }

    /// <summary>Unlinks a free block from its list (<paramref name="head"/> and <paramref name="blocks"/> as for
    /// <see cref="AddToList(ulong, int, ulong[], long[], ref DescriptorCursor)"/>).</summary>
    private void RemoveFromList(ulong pfn, int order, ulong[] head, long[] blocks, ref DescriptorCursor cursor)
    {
        PageDescriptor* d = _memmap.GetMutableCached(pfn, ref cursor);
        ulong prev = d->LruPrev, next = d->LruNext >> 1;
        if (prev != 0) _memmap.GetMutableCached(prev - 1, ref cursor)->LruNext = next << 1;
        else head[order] = next;
        if (next != 0) _memmap.GetMutableCached(next - 1, ref cursor)->LruPrev = prev;
        d->Flags &= ~PageFlags.Buddy;
        d->Private = 0;
        d->LruNext = 0;
        d->LruPrev = 0;
        blocks[order]--;
    }
}
