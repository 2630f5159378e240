using System;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Mm;

/// <summary>Deferred initialisation of the descriptors of memblock-reserved frames (<c>reserve_bootmem_region</c>,
/// in the spirit of <c>CONFIG_DEFERRED_STRUCT_PAGE_INIT</c>). Boot registers each reserved region with the
/// physical backing of its descriptors instead of writing them: the memmap of a 64 TiB machine reserves 1 TiB of
/// frames, whose 16 GiB of descriptors would otherwise be written at boot. A descriptor page is written (its
/// reserved frames get <c>PG_reserved</c>, boot memory, a reference) the first time anything reaches it: a kernel
/// TLB miss on it (every descriptor access goes through <see cref="Get"/>/<see cref="GetMutable"/>, whose cached
/// translations exist only for initialised pages) or raw access to its frame through
/// <see cref="InitialiseBacking"/>. Until then the page is untouched host memory reading as zero.</summary>
internal sealed unsafe partial class Memmap
{
    /// <summary>Reserved regions whose descriptors are not all written yet; replaced whole under
    /// <see cref="_deferredLock"/>, read without it.</summary>
    private DeferredRegion[] _deferred = [];
    private readonly Lock _deferredLock = new();
    private long _deferredPages;

    /// <summary>Descriptor pages still waiting for their first access.</summary>
    public long DeferredPages => Volatile.Read(ref _deferredPages);

    /// <summary>Frames [<paramref name="startPfn"/>, <paramref name="endPfn"/>) are reserved boot memory whose
    /// descriptors lie, contiguously, from physical address <paramref name="backingPa"/> on. They read as
    /// reserved from now on and are written when first reached.</summary>
    public void DeferReservedInit(ulong startPfn, ulong endPfn, ulong backingPa)
    {
        if (endPfn <= startPfn) return;
        var region = new DeferredRegion(startPfn, endPfn, backingPa);
        lock (_deferredLock)
        {
            DeferredRegion[] current = _deferred;
            var next = new DeferredRegion[current.Length + 1];
            current.CopyTo(next, 0);
            next[^1] = region;
            Interlocked.Add(ref _deferredPages, region.Pending);
            // Release: a miss that reads the new array (acquire) sees the region fully built.
            Volatile.Write(ref _deferred, next);
        }
        // A 2 MiB block cached before the region existed would let hits skip its pending pages: drop every cached
        // translation (boot registers regions before it reaches descriptors, so this costs nothing there).
        FlushKernelTlb();
    }

    /// <summary>Writes every deferred descriptor now (the kernel without deferred init, and the representation
    /// the deferred one is checked against).</summary>
    public void InitialiseAllDeferred()
    {
        foreach (DeferredRegion region in Volatile.Read(ref _deferred))
            InitialiseBacking(region.FirstPage, region.EndPage - region.FirstPage);
    }

    /// <summary>Makes the descriptors whose backing lies in [<paramref name="pa"/>, +<paramref name="length"/>)
    /// initialised before something reads or writes those frames other than through <see cref="Get"/>
    /// (raw physical access, a user mapping of the frames).</summary>
    public void InitialiseBacking(ulong pa, ulong length)
    {
        if (length == 0 || Volatile.Read(ref _deferred).Length == 0) return;
        ulong end = pa + length;
        foreach (DeferredRegion region in Volatile.Read(ref _deferred))
        {
            ulong from = Math.Max(pa & Paging.PageMask, region.FirstPage), to = Math.Min(end, region.EndPage);
            for (ulong page = from; page < to; page += Paging.PageSize)
                if (region.IsPending(page)) InitialiseSlow(page);
        }
    }

    /// <summary>The check on every kernel TLB miss: a miss on a page still deferred writes it before the
    /// translation is cached.</summary>
    private void InitialiseDeferred(ulong pagePa)
    {
        foreach (DeferredRegion region in Volatile.Read(ref _deferred))
        {
            if (region.IsPending(pagePa))
            {
                InitialiseSlow(pagePa);
                return;
            }
        }
    }

    /// <summary>True when a descriptor page in [<paramref name="pa"/>, +<paramref name="length"/>) still waits
    /// for its first access.</summary>
    private bool AnyPending(ulong pa, ulong length)
    {
        foreach (DeferredRegion region in Volatile.Read(ref _deferred))
            if (region.AnyPending(pa, pa + length)) return true;
        return false;
    }

    private void InitialiseSlow(ulong pagePa)
    {
        lock (_deferredLock)
        {
            DeferredRegion[] regions = _deferred;
            bool emptied = false;
            // Two regions a few frames apart can share a descriptor page: every one of them is written.
            foreach (DeferredRegion region in regions)
            {
                if (!region.IsPending(pagePa)) continue;
                region.Write(_memory, pagePa);
                Interlocked.Decrement(ref _deferredPages);
                emptied |= region.Pending == 0;
            }
            if (emptied) Volatile.Write(ref _deferred, Array.FindAll(regions, r => r.Pending != 0));
        }
    }

    /// <summary>One reserved region whose descriptors are contiguous in physical memory, with a bit per
    /// descriptor page: set once the page was written.</summary>
    private sealed class DeferredRegion
    {
        private readonly ulong _startPfn, _endPfn, _backingPa;
        private readonly ulong[] _initialised;

        public DeferredRegion(ulong startPfn, ulong endPfn, ulong backingPa)
        {
            _startPfn = startPfn;
            _endPfn = endPfn;
            _backingPa = backingPa;
            FirstPage = backingPa & Paging.PageMask;
            EndPage = (backingPa + ((endPfn - startPfn) << KernelLayout.DescriptorShift) + Paging.PageSize - 1) & Paging.PageMask;
            Pending = (long)((EndPage - FirstPage) >> Paging.PageShift);
            _initialised = new ulong[(Pending + 63) / 64];
        }

        /// <summary>Physical address of the first descriptor page.</summary>
        public ulong FirstPage { get; }

        /// <summary>Exclusive end of the descriptor pages.</summary>
        public ulong EndPage { get; }

        /// <summary>Pages not written yet; changes under the lock.</summary>
        public long Pending { get; private set; }

        public bool IsPending(ulong pagePa)
        {
            if (pagePa < FirstPage || pagePa >= EndPage) return false;
            ulong index = (pagePa - FirstPage) >> Paging.PageShift;
            // Acquire: whoever sees the bit set also sees the descriptors written before it (release in Write).
            return (Volatile.Read(ref _initialised[index >> 6]) & (1UL << (int)(index & 63))) == 0;
        }

        /// <summary>True when a page of this region in [<paramref name="from"/>, <paramref name="to"/>) is pending
        /// (one bitmap word at a time).</summary>
        public bool AnyPending(ulong from, ulong to)
        {
            from = Math.Max(from & Paging.PageMask, FirstPage);
            to = Math.Min(to, EndPage);
            if (from >= to) return false;
            ulong first = (from - FirstPage) >> Paging.PageShift, last = ((to - FirstPage) >> Paging.PageShift) - 1;
            for (ulong word = first >> 6; word <= last >> 6; word++)
            {
                ulong mask = ulong.MaxValue;
                if (word == first >> 6) mask &= ulong.MaxValue << (int)(first & 63);
                if (word == last >> 6) mask &= ulong.MaxValue >> (63 - (int)(last & 63));
                if ((~Volatile.Read(ref _initialised[word]) & mask) != 0) return true;
            }
            return false;
        }

        /// <summary>Writes the reserved state into this region's descriptors on the page; under the lock.</summary>
        public void Write(Hardware.PhysicalMemory memory, ulong pagePa)
        {
            ulong from = Math.Max(pagePa, _backingPa);
            ulong to = Math.Min(pagePa + Paging.PageSize, _backingPa + ((_endPfn - _startPfn) << KernelLayout.DescriptorShift));
            var d = (PageDescriptor*)memory.WritePointer(pagePa) + ((from - pagePa) >> KernelLayout.DescriptorShift);
            for (ulong at = from; at < to; at += KernelLayout.DescriptorSize, d++)
            {
                d->Flags |= PageFlags.Reserved | PageFlags.BootMemory;
                d->RefCount = 1;
            }
            ulong index = (pagePa - FirstPage) >> Paging.PageShift;
            // Release: the descriptors above are visible to anyone who reads the bit set (acquire in IsPending).
            Volatile.Write(ref _initialised[index >> 6], _initialised[index >> 6] | (1UL << (int)(index & 63)));
            Pending--;
        }
    }
}
