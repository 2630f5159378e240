using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Internals;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>Per-CPU page lists (<c>struct per_cpu_pages</c>): demand faults take single frames from a list of their
/// CPU slot (<see cref="PerCpu"/>) under that list's own lock, so faulting CPUs do not meet on the zone lock. A list
/// is refilled with <see cref="PcpBatch"/> frames from its zone under one zone-lock acquisition
/// (<c>rmqueue_bulk</c>), twice and three times as many for refills in a row without a free
/// (<see cref="RefillCount"/>), and frees of single user frames go back onto it (<c>free_unref_page</c>), draining
/// <see cref="PcpBatch"/> of the oldest to the buddy lists once it holds more than <see cref="PcpHigh"/>
/// (<c>free_pcppages_bulk</c>).
/// <para>What counts: a frame on a per-CPU list is free. <see cref="FreePages"/> and <see cref="ZoneFreePages"/>
/// include it (the frames an allocation can get), unlike Linux's <c>NR_FREE_PAGES</c>, which counts only the buddy
/// lists; <see cref="FreeBlocks"/> (<c>/proc/buddyinfo</c>) counts the buddy lists only, as Linux's does, and
/// <see cref="PerCpuPages"/> the frames on the per-CPU lists (<c>/proc/zoneinfo</c>'s pcp <c>count</c>), so that
/// the buddy blocks and the per-CPU frames add up to the free pages. Frames on the lists stay exact: every
/// allocation that finds its zones empty drains the per-CPU lists of those zones and tries again
/// (<c>drain_all_pages</c>), so it fails only when no frame is free anywhere, and a failure changes nothing
/// (there was nothing to drain). Larger blocks come from the buddy lists only: a per-CPU frame is no part of a
/// larger block until it is drained. Hot-remove decides with the per-CPU frames counted as free, then drains every
/// list before it isolates the range (as Linux's <c>offline_pages</c> does).</para>
/// <para>Lock order: a list's lock, then the zone lock. A frame on a list has a descriptor with no flag but the
/// poison mark and no reference, like a frame a free is handing back; a second free of it is caught as a double
/// free.</para></summary>
internal sealed unsafe partial class BuddyAllocator
{
    /// <summary>Frames a refill takes and a drain gives back at a time (<c>pcp->batch</c>).</summary>
    public const int PcpBatch = 31;

    /// <summary>Frames a list may hold before frees drain it (<c>pcp->high</c>).</summary>
    public const int PcpHigh = 4 * PcpBatch;

    /// <summary>The lists of one CPU slot, one per zone, with their lock and activity counters. Padded so that no two
    /// slots share a cache line.</summary>
    private sealed class Pcp
    {
        public Line Hot;
        public readonly ulong[][] Frames = [new ulong[PcpHigh + 1], new ulong[PcpHigh + 1]];

        /// <summary>The owner's cache line, 128 bytes away from anything else (adjacent-line prefetch).</summary>
        [StructLayout(LayoutKind.Explicit, Size = 192)]
        public struct Line
        {
            [FieldOffset(64)] public RawSpinLock Lock;
            [FieldOffset(72)] public int NormalCount;
            [FieldOffset(76)] public int MovableCount;
            [FieldOffset(80)] public long Allocations;
            [FieldOffset(88)] public long Frees;
            [FieldOffset(96)] public int NormalAllocFactor;
            [FieldOffset(100)] public int MovableAllocFactor;
        }

        public ref int Count(int zone) => ref (zone == (int)MemoryZone.Normal ? ref Hot.NormalCount : ref Hot.MovableCount);

        /// <summary><c>pcp->alloc_factor</c> of a zone's list: refills in a row without a free since the last halving.</summary>
        public ref int AllocFactor(int zone) => ref (zone == (int)MemoryZone.Normal ? ref Hot.NormalAllocFactor : ref Hot.MovableAllocFactor);
    }

    /// <summary>Doublings of a refill at most (<c>CONFIG_PCP_BATCH_SCALE_MAX</c>'s default); the list's size caps
    /// it before that here.</summary>
    private const int PcpBatchScaleMax = 5;

    // Every fault reads its CPU's slot here; the slots are written once each. PcpPad empty slots at either end keep
    // them 128 bytes from the neighbouring objects, which refills may write (the zone counts, the buddy lists).
    private const int PcpPad = 16;
    private readonly Pcp?[] _pcp = new Pcp?[PcpPad + PerCpu.Slots + PcpPad];

    /// <summary>Frames on the per-CPU lists now (a racy sum while frames move; exact when they do not).</summary>
    public long PerCpuPages => PcpCount((int)MemoryZone.Normal) + PcpCount((int)MemoryZone.Movable);

    private long PcpCount(int zone)
    {
        long n = 0;
        foreach (Pcp? pcp in _pcp)
            if (pcp is not null) n += Volatile.Read(ref pcp.Count(zone));
        return n;
    }

    private long PcpAllocations()
    {
        long n = 0;
        foreach (Pcp? pcp in _pcp)
            if (pcp is not null) n += Volatile.Read(ref pcp.Hot.Allocations);
        return n;
    }

    private long PcpFrees()
    {
        long n = 0;
        foreach (Pcp? pcp in _pcp)
            if (pcp is not null) n += Volatile.Read(ref pcp.Hot.Frees);
        return n;
    }

    /// <summary>The array of the per-CPU slots and the index of a slot (for layout tests).</summary>
    internal (object?[] Slots, int Index) PcpSlot(int slot) => (_pcp, PcpPad + slot);

    private Pcp ThisCpu()
    {
        int slot = PerCpu.Current;
        return Volatile.Read(ref _pcp[PcpPad + slot]) ?? CreatePcp(slot);
    }

    private Pcp CreatePcp(int slot)
    {
        var created = new Pcp();
        return Interlocked.CompareExchange(ref _pcp[PcpPad + slot], created, null) ?? created;
    }

    /// <summary>A single frame from this CPU's lists (<c>alloc_pages</c> of order 0, <c>rmqueue_pcplist</c>): for
    /// user data (a demand fault's page, <paramref name="movable"/>) ZONE_MOVABLE first, then ZONE_NORMAL, as the
    /// zonelist says; a kernel frame (a vmemmap page) from ZONE_NORMAL only. Each list is refilled from its zone when
    /// empty. When a zone has none left in its buddy lists but other CPUs' lists hold some of its frames, those are
    /// drained first, so the zone is used exactly when a free frame of it exists. Zeroed when
    /// <paramref name="zero"/> is set.</summary>
    public bool TryAllocateHot(bool zero, out ulong pfn, bool movable = true)
    {
        Pcp pcp = ThisCpu();
        for (int zone = movable ? (int)MemoryZone.Movable : (int)MemoryZone.Normal; zone >= (int)MemoryZone.Normal; zone--)
        {
            // populated_zone: a zone without memory (no ZONE_MOVABLE, most often) has no frame on any list, so it
            // is passed over without taking this list's lock or summing the other CPUs' lists — whose cache lines
            // their owners write on each of their faults, so that sum bounced a line between faulting CPUs every time.
            if (Volatile.Read(ref Managed(zone)) == 0) continue;
            for (int attempt = 0; attempt < 4; attempt++)
            {
                if (TryTakeFromPcp(pcp, zone, out pfn))
                {
                    PrepareHot(pfn, zero);
                    return true;
                }
                // This zone's buddy lists are empty: frames of it may still sit on other CPUs' lists.
                if (PcpCount(zone) == 0) break;
                DrainAll(zone);
            }
        }
        pfn = 0;
        return false;
    }

    /// <summary>Pops a frame of <paramref name="zone"/> from <paramref name="pcp"/>, refilling the list from the
    /// zone's buddy lists first when it is empty.</summary>
    private bool TryTakeFromPcp(Pcp pcp, int zone, out ulong pfn)
    {
        pcp.Hot.Lock.Enter();
        ref int count = ref pcp.Count(zone);
        if (count == 0) Refill(pcp, zone);
        if (count == 0)
        {
            pcp.Hot.Lock.Exit();
            pfn = 0;
            return false;
        }
        pfn = pcp.Frames[zone][--count];
        pcp.Hot.Allocations++;
        pcp.Hot.Lock.Exit();
        return true;
    }

    /// <summary><c>rmqueue_bulk</c> (under the list's lock): up to <see cref="RefillCount"/> single frames of the
    /// zone, split off its smallest blocks under one zone-lock acquisition. They stay free pages.</summary>
    private void Refill(Pcp pcp, int zone)
    {
        // A zone with nothing on its buddy lists (no ZONE_MOVABLE at all, most often) is not worth the zone lock;
        // a free racing with this look is found by the next refill.
        if (Volatile.Read(ref _zoneFree[zone]) == 0) return;
        ulong[] frames = pcp.Frames[zone];
        ref int count = ref pcp.Count(zone);
        int target = count + RefillCount(pcp, zone, count);
        DescriptorCursor cursor = default;
        lock (_lock)
        {
            while (count < target)
            {
                int current = SmallestFree(zone, 0);
                if (current > MaxOrder) break;
                ulong pfn = TakeFirst(zone, current, ref cursor);
                while (current > 0)
                {
                    current--;
                    AddToList(pfn + (1UL << current), current, zone, ref cursor);
                }
                PageDescriptor* d = _memmap.GetMutableCached(pfn, ref cursor);
                d->Flags &= PageFlags.Poisoned;
                d->RefCount = 0;
                d->Private = 0;
                _zoneFree[zone]--;
                // Published after the zone's count moved: a reader summing both never sees the frame twice.
                frames[count] = pfn;
                Volatile.Write(ref count, count + 1);
            }
        }
    }

    /// <summary><c>nr_pcp_alloc</c> (under the list's lock): how many frames a refill takes — <see cref="PcpBatch"/>,
    /// doubled for each refill in a row that no free to the list interrupted (<c>pcp->alloc_factor</c>; a free
    /// halves it), but never more than leaves a batch of room below <see cref="PcpHigh"/>. A stream of faults thus
    /// takes the zone lock once per 93 frames instead of 31: the zone lock and the buddy lists are what faulting
    /// CPUs still share.</summary>
    private static int RefillCount(Pcp pcp, int zone, int count)
    {
        ref int factor = ref pcp.AllocFactor(zone);
        int batch = PcpBatch << factor;
        int most = Math.Max(PcpHigh - count - PcpBatch, PcpBatch);
        if (batch <= most && factor < PcpBatchScaleMax) factor++;
        return Math.Min(batch, most);
    }

    /// <summary>The frame leaves the free pages and gets its reference, as <see cref="TryAllocate"/>'s do. Nothing
    /// here writes a word another CPU's fault writes too: the free-page count is per CPU, and the zeroing leaves the
    /// frame bitmap alone (<see cref="Hardware.PhysicalMemory.ClearUserPage"/>: the user's write follows).</summary>
    private void PrepareHot(ulong pfn, bool zero)
    {
        PageDescriptor* d = _memmap.GetMutable(pfn); // one descriptor: no cursor to fill
        d->Flags = PageFlags.Allocated;
        d->RefCount = 1;
        d->Private = 0;
        _stat.FreePages.Add(-1);
        if (zero) _memory.ClearUserPage(pfn << 12);
    }

    /// <summary>The descriptor of a frame taken from a list: allocated, one reference, the poison mark gone.</summary>
    private void PrepareHotUncounted(ulong pfn, ref DescriptorCursor cursor)
    {
        PageDescriptor* d = _memmap.GetMutableCached(pfn, ref cursor);
        d->Flags = PageFlags.Allocated;
        d->RefCount = 1;
        d->Private = 0;
    }

    /// <summary><c>free_unref_page</c>: frees a single frame (user data, or a kernel page such as a vmemmap page
    /// HVO gives back) onto this CPU's list of its zone (checks and
    /// poisoning as <see cref="Free"/>); a list above <see cref="PcpHigh"/> gives its <see cref="PcpBatch"/> oldest
    /// frames back to the buddy lists.</summary>
    public void FreeHot(ulong pfn)
    {
        if (!PrepareFreeHot(pfn, _memmap.GetMutable(pfn))) return;
        Pcp pcp = ThisCpu();
        pcp.Hot.Lock.Enter();
        PushLocked(pcp, pfn);
        pcp.Hot.Lock.Exit();
    }

    /// <summary><c>free_unref_folios</c>: <see cref="FreeHot"/> for each of <paramref name="pfns"/>, under one hold
    /// of this CPU's list lock instead of one per frame (the gather's frees after a flush). Returns how many of them
    /// were boot memory (<c>free_reserved_page</c>: memblock's, straight to the buddy lists), which the caller may
    /// need to count (HVO's <c>nr_memmap_boot_pages</c>) without reading their descriptors a second time.
    /// The span is the caller's scratch: the frames for the list are compacted to its front.</summary>
    public int FreeHotBulk(Span<ulong> pfns)
    {
        Pcp pcp = ThisCpu();
        int reserved = 0, prepared = 0;
        DescriptorCursor cursor = default;
        pcp.Hot.Lock.Enter();
        try
        {
            // Lock order: a list's lock, then the zone lock (a boot frame's free_reserved_page, a drain).
            foreach (ulong pfn in pfns)
            {
                if (PrepareFreeHot(pfn, _memmap.GetMutableCached(pfn, ref cursor))) pfns[prepared++] = pfn;
                else reserved++;
            }
        }
        finally
        {
            // Even after a double free was caught: what was checked and poisoned goes on the list. Counted free
            // with one add before any is on it (a reader summing the lists never sees more than the free pages).
            _stat.FreePages.Add(prepared);
            for (int i = 0; i < prepared; i++) PushCountedLocked(pcp, pfns[i]);
            pcp.Hot.Lock.Exit();
        }
        return reserved;
    }

    /// <summary><c>alloc_pages_bulk</c> of kernel frames (ZONE_NORMAL) from this CPU's list: fills
    /// <paramref name="pfns"/> from the front under one hold of the list's lock, refilling the list from the buddy
    /// lists as it empties, and returns how many it took — fewer only when ZONE_NORMAL's buddy lists ran dry
    /// (frames on other CPUs' lists are the caller's to get, through <see cref="TryAllocateHot"/>). Each frame as
    /// <see cref="TryAllocateHot"/> gives it, not zeroed.</summary>
    public int TryAllocateHotBulk(Span<ulong> pfns)
    {
        const int zone = (int)MemoryZone.Normal;
        Pcp pcp = ThisCpu();
        int taken = 0;
        pcp.Hot.Lock.Enter();
        ulong[] frames = pcp.Frames[zone];
        ref int count = ref pcp.Count(zone);
        while (taken < pfns.Length)
        {
            if (count == 0) Refill(pcp, zone);
            if (count == 0) break;
            int n = Math.Min(count, pfns.Length - taken);
            for (int i = 1; i <= n; i++) pfns[taken++] = frames[count - i];
            Volatile.Write(ref count, count - n);
        }
        pcp.Hot.Allocations += taken;
        pcp.Hot.Lock.Exit();
        DescriptorCursor cursor = default;
        for (int i = 0; i < taken; i++) PrepareHotUncounted(pfns[i], ref cursor);
        _stat.FreePages.Add(-taken);
        return taken;
    }

    /// <summary>The checks and poisoning of a single-frame free (<paramref name="d"/> is its descriptor, reached for
    /// writing); false when the frame was boot memory and went to the buddy lists already.</summary>
    private bool PrepareFreeHot(ulong pfn, PageDescriptor* d)
    {
        if ((d->Flags & (PageFlags.Allocated | PageFlags.Reserved)) == 0) ThrowHelper.ThrowDoubleFree(pfn);
        if ((d->Flags & PageFlags.Reserved) != 0)
        {
            FreeReserved(pfn, 0); // boot memory leaving memblock: free_reserved_page, not a list
            return false;
        }
        if (_checked)
        {
            _memory.Fill(pfn << 12, 4096, 0x6b);
            d->Flags |= PageFlags.Poisoned;
        }
        d->Flags &= PageFlags.Poisoned;
        d->RefCount = 0;
        d->Private = 0;
        d->Mapping = 0;
        return true;
    }

    /// <summary>Puts a prepared frame on <paramref name="pcp"/>'s list of its zone (under the list's lock), draining
    /// the list's oldest batch once it holds more than <see cref="PcpHigh"/>.</summary>
    private void PushLocked(Pcp pcp, ulong pfn)
    {
        // Counted free before it is on the list: a reader summing the lists never sees more than the free pages.
        _stat.FreePages.Add(1);
        PushCountedLocked(pcp, pfn);
    }

    /// <summary><see cref="PushLocked"/> of a frame the caller counted free already.</summary>
    private void PushCountedLocked(Pcp pcp, ulong pfn)
    {
        int zone = ZoneOf(pfn);
        ulong[] frames = pcp.Frames[zone];
        ref int count = ref pcp.Count(zone);
        frames[count] = pfn;
        Volatile.Write(ref count, count + 1);
        pcp.Hot.Frees++;
        pcp.AllocFactor(zone) >>= 1; // frees are coming back: smaller refills (free_unref_page_commit)
        if (count > PcpHigh) DrainLocked(pcp, zone, PcpBatch);
    }

    /// <summary><c>free_pcppages_bulk</c> (under the list's lock): gives the <paramref name="frames"/> oldest frames
    /// of the list back to the buddy lists, coalescing, under one zone-lock acquisition. They stay free pages.</summary>
    private void DrainLocked(Pcp pcp, int zone, int frames)
    {
        if (Math.Min(frames, pcp.Count(zone)) == 0) return;
        lock (_lock) DrainUnderZoneLock(pcp, zone, frames);
    }

    /// <summary><see cref="DrainLocked"/> with the zone lock held too.</summary>
    private void DrainUnderZoneLock(Pcp pcp, int zone, int frames)
    {
        ulong[] list = pcp.Frames[zone];
        ref int count = ref pcp.Count(zone);
        int n = Math.Min(frames, count);
        FreeFramesLocked(list.AsSpan(0, n), zone);
        Array.Copy(list, n, list, 0, count - n);
        // After the zone's count took the frames: a reader summing both never sees them twice.
        Volatile.Write(ref count, count - n);
    }

    /// <summary><c>drain_all_pages</c> for one zone: every CPU's list of it back to the buddy lists.</summary>
    private void DrainAll(int zone)
    {
        foreach (Pcp? pcp in _pcp)
        {
            if (pcp is null || Volatile.Read(ref pcp.Count(zone)) == 0) continue;
            pcp.Hot.Lock.Enter();
            DrainLocked(pcp, zone, int.MaxValue);
            pcp.Hot.Lock.Exit();
        }
    }

    /// <summary>Drains the lists of the zones an allocation may use when their buddy lists cannot serve it but the
    /// lists hold frames: true when something was drained (the caller tries again).</summary>
    private bool DrainFor(bool movable)
    {
        bool drained = false;
        if (movable && PcpCount((int)MemoryZone.Movable) != 0)
        {
            DrainAll((int)MemoryZone.Movable);
            drained = true;
        }
        if (PcpCount((int)MemoryZone.Normal) != 0)
        {
            DrainAll((int)MemoryZone.Normal);
            drained = true;
        }
        return drained;
    }

    /// <summary>Takes every list's lock, in slot order (the lock order: lists before the zone lock), for a decision
    /// that must see the lists still (hot-remove). Returns the locked lists for <see cref="UnlockAll"/>.</summary>
    private List<Pcp> LockAll()
    {
        List<Pcp>? locked = null;
        foreach (Pcp? pcp in _pcp)
        {
            if (pcp is null) continue;
            pcp.Hot.Lock.Enter();
            (locked ??= []).Add(pcp);
        }
        return locked ?? s_noLists; // no CPU ever used a list (no demand faults): nothing to allocate
    }

    private static readonly List<Pcp> s_noLists = [];
    private static readonly HashSet<ulong> s_noFrames = [];

    private static void UnlockAll(List<Pcp> locked)
    {
        foreach (Pcp pcp in locked) pcp.Hot.Lock.Exit();
    }

    /// <summary>The frames on the locked lists that lie in [startPfn, endPfn).</summary>
    private static HashSet<ulong> PcpFramesIn(List<Pcp> locked, ulong startPfn, ulong endPfn)
    {
        if (locked.Count == 0) return s_noFrames; // shared and never written
        var frames = new HashSet<ulong>();
        foreach (Pcp pcp in locked)
        {
            for (int zone = 0; zone < 2; zone++)
            {
                ulong[] list = pcp.Frames[zone];
                int count = pcp.Count(zone);
                for (int i = 0; i < count; i++)
                    if (list[i] >= startPfn && list[i] < endPfn) frames.Add(list[i]);
            }
        }
        return frames;
    }

    /// <summary>True when some list holds <paramref name="pfn"/> (a racy look, for <see cref="IsFree"/>).</summary>
    private bool OnPcpList(ulong pfn)
    {
        foreach (Pcp? pcp in _pcp)
        {
            if (pcp is null) continue;
            pcp.Hot.Lock.Enter();
            bool found = PcpFramesIn([pcp], pfn, pfn + 1).Count != 0;
            pcp.Hot.Lock.Exit();
            if (found) return true;
        }
        return false;
    }
}
