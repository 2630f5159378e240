using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Internals;

namespace FastPt.Hardware;

// Data access through translation: typed reads and writes with their TLB-hit fast paths, and byte ranges that
// check every page before touching any.
internal unsafe partial struct Cpu<TFrames>
{
    /// <summary>Reads a value through translation. Faults throw <see cref="PageFaultException"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Read<T>(ulong v) where T : unmanaged
    {
        // The slot in a local: the volatile stores keep the JIT from reusing the field's load for the second.
        ContextSlot slot = _slot;
        Volatile.Write(ref slot.Busy, 1);
        // The hit word after the busy store (the JIT keeps volatile accesses in order; the processor may not,
        // which the flusher's membarrier covers: it then sees this access busy or this access sees the flush's
        // signal, FlushDomain.Publish).
        TlbEntry* entries = _tlb.AccessEntries;
        ulong word = SoftTlb.HitWordOf(entries);
        // sizeof(T) is a constant of the instantiation: the test folds away (a value larger than a page always
        // takes the slow path, which splits it by page).
        if (sizeof(T) <= (int)Paging.PageSize)
        {
            // The tag of the first byte's set against the page of the last byte: an access crossing into the next
            // page misses here without a check of its own (SoftTlb.AccessEntries says why that holds).
            ref TlbEntry e = ref SoftTlb.EntryAt(entries, _tlb.Way0Offset(v));
            if (e.ReadTag == (((v + (ulong)(sizeof(T) - 1)) & Paging.PageMask) | word))
            {
                T value = Unsafe.ReadUnaligned<T>((byte*)((long)v + e.HostAddend));
                SoftTlb.CountHit(entries);
                Volatile.Write(ref slot.Busy, 0);
                return value;
            }
        }
        // The large-page TLB (only after a 4 KiB miss): its own page-offset check.
        if (sizeof(T) <= (int)Paging.PageSize && (v & (Paging.PageSize - 1)) <= Paging.PageSize - (ulong)sizeof(T))
        {
            nuint ho = _tlb.HugeOffset(v);
            ref TlbEntry h = ref _tlb.HugeEntryAt(ho);
            if (h.ReadTag == ((v & ~SoftTlb.HugeMask) | word))
            {
                T value = Unsafe.ReadUnaligned<T>((byte*)((long)v + h.HostAddend));
                SoftTlb.CountHit(entries);
                Volatile.Write(ref slot.Busy, 0);
                return value;
            }
        }
        T result = default;
        ReadSlow(v, MemoryMarshal.AsBytes(new Span<T>(ref result)));
        return result;
    }

    /// <summary>Writes a value through translation. Faults throw <see cref="PageFaultException"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write<T>(ulong v, T value) where T : unmanaged
    {
        ContextSlot slot = _slot;
        Volatile.Write(ref slot.Busy, 1);
        // The hit word after the busy store (the JIT keeps volatile accesses in order; the processor may not,
        // which the flusher's membarrier covers: it then sees this access busy or this access sees the flush's
        // signal, FlushDomain.Publish).
        TlbEntry* entries = _tlb.AccessEntries;
        ulong word = SoftTlb.HitWordOf(entries);
        if (sizeof(T) <= (int)Paging.PageSize)
        {
            // The first byte's set, the last byte's page (as in Read).
            ref TlbEntry e = ref SoftTlb.EntryAt(entries, _tlb.Way0Offset(v));
            if (e.WriteTag == (((v + (ulong)(sizeof(T) - 1)) & Paging.PageMask) | word))
            {
                Unsafe.WriteUnaligned((byte*)((long)v + e.HostAddend), value);
                SoftTlb.CountHit(entries);
                Volatile.Write(ref slot.Busy, 0);
                return;
            }
        }
        // The large-page TLB (only after a 4 KiB miss): its own page-offset check.
        if (sizeof(T) <= (int)Paging.PageSize && (v & (Paging.PageSize - 1)) <= Paging.PageSize - (ulong)sizeof(T))
        {
            nuint ho = _tlb.HugeOffset(v);
            ref TlbEntry h = ref _tlb.HugeEntryAt(ho);
            if (h.WriteTag == ((v & ~SoftTlb.HugeMask) | word))
            {
                Unsafe.WriteUnaligned((byte*)((long)v + h.HostAddend), value);
                SoftTlb.CountHit(entries);
                Volatile.Write(ref slot.Busy, 0);
                return;
            }
        }
        WriteSlow(v, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadSlow(ulong v, Span<byte> destination)
    {
        if (!TryAccess(v, destination, AccessKind.Read, out PageFault fault)) ThrowHelper.ThrowPageFault(fault);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(ulong v, ReadOnlySpan<byte> source)
    {
        if (!TryAccess(v, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length), AccessKind.Write, out PageFault fault))
            ThrowHelper.ThrowPageFault(fault);
    }

    /// <summary>Reads bytes through translation; false with the fault (and nothing read: the destination is left
    /// alone) if any page faults.</summary>
    public bool TryRead(ulong v, Span<byte> destination, out PageFault fault) =>
        TryAccess(v, destination, AccessKind.Read, out fault);

    /// <summary>Writes bytes through translation, all or nothing: every page is checked before the first byte is
    /// written and every page's frame is resolved before any is copied, so a faulting write changes no byte, also
    /// when another thread unmaps one of the pages meanwhile (in that race an earlier page may be marked accessed
    /// and dirty, as hardware marks it on the walk, but none is written).</summary>
    public bool TryWrite(ulong v, ReadOnlySpan<byte> source, out PageFault fault) =>
        TryAccess(v, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length), AccessKind.Write, out fault);

    /// <summary>Pages whose host addresses a multi-page access keeps on the stack.</summary>
    private const int StackPages = 32;

    private bool TryAccess(ulong va, Span<byte> buffer, AccessKind access, out PageFault fault)
    {
        // A fault is delivered after the busy window of the attempt and the whole access retried.
        while (!TryAccessOnce(va, buffer, access, out fault))
            if (!RaiseFault(ref fault)) return false;
        return true;
    }

    private bool TryAccessOnce(ulong va, Span<byte> buffer, AccessKind access, out PageFault fault)
    {
        Volatile.Write(ref _slot.Busy, 1);
        try
        {
            if (buffer.IsEmpty)
            {
                fault = default;
                return true;
            }
            ulong last = va + (ulong)buffer.Length - 1;
            if (last < va)
            {
                fault = Fault(_root, va, access, FaultReason.OutOfRange);
                return false;
            }
            ulong firstPage = va & Paging.PageMask, lastPage = last & Paging.PageMask;
            if (firstPage == lastPage)
            {
                // One page, one lookup: nothing can change between the check and the copy.
                if (!Lookup(va, access, out Hit entry, out fault)) return false;
                Copy(new Span<byte>((byte*)entry.Host + (va & (Paging.PageSize - 1)), buffer.Length), buffer, access);
                return true;
            }

            // Check every page first, without side effects: a faulting access leaves no trace.
            for (ulong page = firstPage; ; page += Paging.PageSize)
            {
                if (!Probe(Math.Max(page, va), access, out fault)) return false;
                if (page == lastPage) break;
            }

            // Then resolve the frame of every page before copying any, so that a page unmapped after the check
            // faults the access before a byte moved. A pass during which this CPU applied a flush may hold a frame
            // that flush took away: resolve again. After a pass that applied none, the frames stay valid until
            // Busy is cleared: a flush published later is not acknowledged (the copy reads no generation), and
            // its flusher waits while this CPU is busy and behind before anything is freed.
            int pages = (int)((lastPage - firstPage) >> Paging.PageShift) + 1;
            Span<nint> hosts = pages <= StackPages ? stackalloc nint[StackPages] : new nint[pages];
            long seen;
            do
            {
                if (FlushesToApply) ApplyFlushes();
                seen = _seen;
                for (int i = 0; i < pages; i++)
                {
                    ulong at = Math.Max(firstPage + ((ulong)i << Paging.PageShift), va);
                    if (!Lookup(at, access, out Hit entry, out fault)) return false;
                    hosts[i] = entry.Host;
                }
            } while (_seen != seen);

            int done = 0;
            for (int i = 0; i < pages; i++)
            {
                ulong at = va + (ulong)done;
                int n = (int)Math.Min((ulong)(buffer.Length - done), Paging.PageSize - (at & (Paging.PageSize - 1)));
                Copy(new Span<byte>((byte*)hosts[i] + (at & (Paging.PageSize - 1)), n), buffer.Slice(done, n), access);
                done += n;
            }
            fault = default;
            return true;
        }
        finally
        {
            Volatile.Write(ref _slot.Busy, 0);
        }
    }

    private static void Copy(Span<byte> host, Span<byte> part, AccessKind access)
    {
        if (access == AccessKind.Write) part.CopyTo(host);
        else host.CopyTo(part);
    }

    /// <summary>Would an access of <paramref name="access"/> at <paramref name="va"/> succeed? No side effects but
    /// the fault's count and event: the access then faults with it.</summary>
    private bool Probe(ulong va, AccessKind access, out PageFault fault)
    {
        if (FlushesToApply) ApplyFlushes();
        if (Unsafe.Add(ref _tlb.Entry(_tlb.IndexOf(va)).ReadTag, (int)access) == ((va & Paging.PageMask) | _tlb.UserEpoch))
        {
            fault = default;
            return true;
        }
        if (!Paging.IsCanonical(va, _mode) || va > _userLast)
        {
            fault = Fault(_root, va, access, Paging.IsCanonical(va, _mode) ? FaultReason.OutOfRange : FaultReason.NonCanonical);
            return false;
        }
        WalkStatus status = HardwareWalker.Walk(_physical, _root.Pa, _root.Level, va, access, user: true,
            updateAccessedDirty: false, _checked, out WalkResult walk);
        if (status == WalkStatus.Poisoned) throw UseAfterFree(va, walk);
        if (status == WalkStatus.Ok && !_frames.IsPresent(walk.PhysAddr >> Paging.PageShift)) status = WalkStatus.BadPhysicalAddress;
        if (status == WalkStatus.Ok)
        {
            fault = default;
            return true;
        }
        fault = Fault(_root, va, access, FaultFor(status, walk));
        return false;
    }
}
