using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;
using FastPt.Hardware;
using FastPt.Lib;
using FastPt.Mm;

namespace FastPt.Benchmarks.HugeTlb;

/// <summary>The floor of a batched 2 MiB optimize: the bare operations one folio's optimize cannot do without, on the
/// pool's own pages, in the cache state of the real path (the pool restored, as before an <c>OptimizeBatched</c>
/// iteration): the 4 KiB copy of the folio's head vmemmap page into a page just taken from this CPU's list, the 8
/// PTE writes (into the folio's own vmemmap PTEs, each written with the value it holds, so the machine does not
/// change), one page from the per-CPU list, and 8 frees onto it (one bulk free of the batch's 4,096 frames, as at the
/// gather's end). No walk, no lookup, no check, no flush, no grace period: what is left when all of that
/// costs nothing. The frames to free are taken before each timed call (<see cref="Prepare"/>) and the pages it
/// allocated given back before the next.</summary>
internal sealed unsafe class HvoFloor
{
    private const int PagesPerFolio = 8;
    private readonly HvoPool _pool;
    private readonly PhysicalMemory _physical;
    private readonly BuddyAllocator _buddy;
    private readonly ulong[] _headPages;
    private readonly nint[] _ptes;
    private readonly ulong[] _toFree;
    private readonly ulong[] _destinations;
    private int _destinationCount;

    public HvoFloor(HvoPool pool)
    {
        _pool = pool;
        MemoryManager memory = pool.Machine.Memory;
        _physical = memory.Physical;
        _buddy = memory.Buddy;
        int folios = pool.Folios.Length;
        _headPages = new ulong[folios];
        _ptes = new nint[folios];
        _toFree = new ulong[folios * PagesPerFolio];
        _destinations = new ulong[folios];
        MmStruct initMm = memory.InitMm;
        for (int i = 0; i < folios; i++)
        {
            ulong va = memory.Layout.DescriptorAddress(pool.Folios[i].HeadPfn);
            var ops = new FirstPte();
            PageWalk.Walk(_physical, initMm.RootPa, initMm.RootLevel, va, va + PagesPerFolio * FastPt.Geometry.Paging.PageSize, ref ops);
            if (ops.Pte == null) throw new InvalidOperationException("the pool's vmemmap is not PTE-mapped (optimize it once first)");
            _ptes[i] = (nint)ops.Pte;
            _headPages[i] = PageTableEntry.LeafAddress(*ops.Pte, FastPt.Geometry.Paging.PteLevel) >> FastPt.Geometry.Paging.PageShift;
        }
    }

    /// <summary>Untimed, before each call: the pages the last call allocated go back, and the frames this call frees
    /// (and, for <see cref="Copy"/>, the destination pages) are taken from the per-CPU list.</summary>
    public void Prepare(bool destinations)
    {
        if (_destinationCount > 0) _buddy.FreeHotBulk(_destinations.AsSpan(0, _destinationCount));
        _destinationCount = 0;
        for (int i = 0; i < _toFree.Length; i++) Take(out _toFree[i]);
        if (!destinations) return;
        for (int i = 0; i < _destinations.Length; i++) Take(out _destinations[i]);
        _destinationCount = _destinations.Length;
    }

    private void Take(out ulong pfn)
    {
        if (!_buddy.TryAllocateHot(zero: false, out pfn, movable: false)) throw new InvalidOperationException("out of memory");
        // First touch of its host memory here, untimed: the real path's pages were all written once (a restore
        // filled them), so no copy of it pays a host page fault; a frame never written would.
        *_physical.WritePointer(pfn << FastPt.Geometry.Paging.PageShift) = 0;
    }

    /// <summary>Everything of the floor, per folio in the real path's order: a page from the list, the head page
    /// copied into it, the 8 PTE writes; then the batch's frees.</summary>
    public int All()
    {
        for (int i = 0; i < _headPages.Length; i++)
        {
            if (!_buddy.TryAllocateHot(zero: false, out ulong page, movable: false)) throw new InvalidOperationException("out of memory");
            _destinations[i] = page;
            PageCopy.Copy(_physical.ReadPointer(_headPages[i] << FastPt.Geometry.Paging.PageShift), _physical.WritePointer(page << FastPt.Geometry.Paging.PageShift));
            WritePtes((ulong*)_ptes[i]);
        }
        _destinationCount = _headPages.Length;
        _buddy.FreeHotBulk(_toFree);
        return _headPages.Length;
    }

    /// <summary>Copies of lead with which <see cref="CopyPrefetched"/> prefetches.</summary>
    public const int Lead = 2;

    /// <summary>The head page copies alone, with both pages of copy i + <see cref="Lead"/> (source and destination)
    /// prefetched before copy i: what prefetching could take off the copy. It takes nothing off: a page copy from
    /// and to cold memory on this machine waits on the memory's throughput, not on the latency a prefetch hides
    /// (perf-results/.../Hvo/README-direction-copy5.md), and a pipelined optimize that took each folio's new head
    /// page ahead and prefetched both pages measured no better than the engine's path, so it is not in the engine.</summary>
    public int CopyPrefetched()
    {
        int n = _headPages.Length;
        for (int j = 0; j < Math.Min(Lead, n); j++) PrefetchCopy(j);
        for (int i = 0; i < n; i++)
        {
            if (i + Lead < n) PrefetchCopy(i + Lead);
            PageCopy.Copy(_physical.ReadPointer(_headPages[i] << FastPt.Geometry.Paging.PageShift), _physical.WritePointer(_destinations[i] << FastPt.Geometry.Paging.PageShift));
        }
        return n;
    }

    private void PrefetchCopy(int i)
    {
        PageCopy.Prefetch(_physical.ReadPointer(_headPages[i] << FastPt.Geometry.Paging.PageShift));
        PageCopy.Prefetch(_physical.WritePointer(_destinations[i] << FastPt.Geometry.Paging.PageShift));
    }

    /// <summary>The head page copies alone, into pages taken before the call.</summary>
    public int Copy()
    {
        for (int i = 0; i < _headPages.Length; i++)
            PageCopy.Copy(_physical.ReadPointer(_headPages[i] << FastPt.Geometry.Paging.PageShift), _physical.WritePointer(_destinations[i] << FastPt.Geometry.Paging.PageShift));
        return _headPages.Length;
    }

    /// <summary><see cref="Copy"/> with non-temporal stores (<see cref="CopyPageNonTemporal"/>).</summary>
    public int CopyNonTemporal()
    {
        for (int i = 0; i < _headPages.Length; i++)
            CopyPageNonTemporal(_physical.ReadPointer(_headPages[i] << FastPt.Geometry.Paging.PageShift), _physical.WritePointer(_destinations[i] << FastPt.Geometry.Paging.PageShift));
        return _headPages.Length;
    }

    private const int Size4K = 4096;

    /// <summary><see cref="PageCopy.Copy"/> with non-temporal stores (AVX2 loads, <c>vmovntdq</c>; <paramref name="to"/> is
    /// page-aligned): the destination's lines are written without being read for ownership first and are not kept
    /// in the caches. The stores are weakly ordered: the closing <c>sfence</c> orders all of them before any later
    /// store, so a release store publishing the page (a PTE) still comes after its contents. Plain
    /// <see cref="PageCopy.Copy"/> without AVX. Only this floor uses it: the engine's copy stays memmove, which
    /// measured faster (perf-results/.../Hvo/quiet-cc4d744).</summary>
    private static void CopyPageNonTemporal(byte* from, byte* to)
    {
        if (!Avx.IsSupported)
        {
            PageCopy.Copy(from, to);
            return;
        }
        for (int i = 0; i < Size4K; i += 4 * 32)
        {
            Vector256<byte> a = Avx.LoadVector256(from + i), b = Avx.LoadVector256(from + i + 32);
            Vector256<byte> c = Avx.LoadVector256(from + i + 64), d = Avx.LoadVector256(from + i + 96);
            Avx.StoreAlignedNonTemporal(to + i, a);
            Avx.StoreAlignedNonTemporal(to + i + 32, b);
            Avx.StoreAlignedNonTemporal(to + i + 64, c);
            Avx.StoreAlignedNonTemporal(to + i + 96, d);
        }
        Sse.StoreFence();
    }

    /// <summary>The 8 PTE writes of every folio alone.</summary>
    public int Ptes()
    {
        for (int i = 0; i < _ptes.Length; i++) WritePtes((ulong*)_ptes[i]);
        return _ptes.Length;
    }

    /// <summary>One page from the per-CPU list per folio, then the batch's frees, alone.</summary>
    public int AllocateAndFree()
    {
        for (int i = 0; i < _destinations.Length; i++)
            if (!_buddy.TryAllocateHot(zero: false, out _destinations[i], movable: false)) throw new InvalidOperationException("out of memory");
        _destinationCount = _destinations.Length;
        _buddy.FreeHotBulk(_toFree);
        return _destinations.Length;
    }

    private static void WritePtes(ulong* ptes)
    {
        // The same value back, with the release store of the real remap.
        for (int j = 0; j < PagesPerFolio; j++) Volatile.Write(ref ptes[j], ptes[j]);
    }

    /// <summary>The address of the first PTE of the walked range.</summary>
    private struct FirstPte : IPageWalkOps
    {
        public ulong* Pte;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next) =>
            PageTableEntry.IsTable(*entry, level) ? WalkAction.Descend : WalkAction.Stop;

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            Pte = ptes;
            return WalkAction.Stop;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;
    }
}
