using System;
using System.Threading;

namespace FastPt.Hardware;

/// <summary>One published invalidation: what to drop from every TLB attached to the domain.</summary>
internal readonly record struct FlushRequest(ulong Start, ulong End, FlushKind Kind, bool TablesFreed);

/// <summary>The invalidation channel of one address space (or of the kernel): the software equivalent of the
/// shootdown IPIs of <c>flush_tlb_mm_range</c>. A flush is published as a request numbered by a generation;
/// every CPU context compares its acknowledged generation with the domain's before each translation and applies
/// what it missed (or flushes everything when it fell too far behind).</summary>
internal sealed class FlushDomain
{
    /// <summary>Requests kept for contexts that are behind; older ones are replaced by a full flush.</summary>
    public const int RingSize = 64;

    private readonly FlushRequest[] _ring = new FlushRequest[RingSize];
    private readonly Lock _publishLock = new();
    private readonly long[] _publishedByKind = new long[4];
    private ContextSlot[] _contexts = [];
    private long _generation;
    private long _published;
    private long _syncedWaits;

    /// <summary>Generation of the newest published request (0 = none).</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Requests published so far.</summary>
    public long Published => Volatile.Read(ref _published);

    /// <summary>Requests published of <paramref name="kind"/>.</summary>
    public long PublishedOf(FlushKind kind) => Volatile.Read(ref _publishedByKind[(int)kind]);

    /// <summary>Flushes that waited for other contexts to acknowledge.</summary>
    public long SyncedWaits => Volatile.Read(ref _syncedWaits);

    /// <summary>Contexts attached now.</summary>
    public ContextSlot[] Contexts => Volatile.Read(ref _contexts);

    /// <summary>Publishes a request and returns its generation.</summary>
    public long Publish(in FlushRequest request)
    {
        lock (_publishLock)
        {
            long next = _generation + 1;
            _ring[next % RingSize] = request;
            _published++;
            _publishedByKind[(int)request.Kind]++;
            Volatile.Write(ref _generation, next);
            return next;
        }
    }

    /// <summary>Attaches a CPU context: from now on it must honour this domain's flushes.</summary>
    public void Attach(ContextSlot slot)
    {
        lock (_publishLock)
        {
            ContextSlot[] old = _contexts;
            int live = 0;
            foreach (ContextSlot s in old) if (s.IsLive) live++;
            var next = new ContextSlot[live + 1];
            int i = 0;
            foreach (ContextSlot s in old) if (s.IsLive) next[i++] = s;
            next[i] = slot;
            Volatile.Write(ref _contexts, next);
        }
    }

    /// <summary>Detaches a context.</summary>
    public void Detach(ContextSlot slot)
    {
        lock (_publishLock)
        {
            ContextSlot[] old = _contexts;
            var next = new System.Collections.Generic.List<ContextSlot>(old.Length);
            foreach (ContextSlot s in old) if (!ReferenceEquals(s, slot) && s.IsLive) next.Add(s);
            Volatile.Write(ref _contexts, next.ToArray());
        }
    }

    /// <summary>Waits until every other attached context has acknowledged <paramref name="generation"/> or is
    /// not in the middle of an access (QEMU's synced flush). A context marks itself busy with a plain store
    /// before reading the generation; the process-wide barrier makes that store visible here, or makes the
    /// context see the new generation: one of the two always holds, so no access that started before the flush
    /// can still be running with a stale entry when this returns.</summary>
    public void WaitForAcknowledgement(long generation)
    {
        ContextSlot[] contexts = Volatile.Read(ref _contexts);
        if (contexts.Length == 0) return;
        // A context on this very thread is never busy here (flushes are not issued from inside an access), so
        // with only such a context there is nothing to wait for.
        if (contexts.Length == 1 && ReferenceEquals(contexts[0].Owner, Thread.CurrentThread) && Volatile.Read(ref contexts[0].Busy) == 0) return;
        Interlocked.MemoryBarrierProcessWide();
        Interlocked.Increment(ref _syncedWaits);
        foreach (ContextSlot s in contexts)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref s.Busy) != 0 && Volatile.Read(ref s.SeenGeneration) < generation)
                spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Reads request <paramref name="generation"/>. Returns false when it was already overwritten (the
    /// reader must then flush everything).</summary>
    public bool TryRead(long generation, out FlushRequest request)
    {
        request = _ring[generation % RingSize];
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _generation) - generation < RingSize;
    }
}

/// <summary>What a flush needs to know about one CPU context: whether it is inside an access and which
/// generation it has acknowledged. Written by the context's own thread only.</summary>
internal sealed class ContextSlot
{
    /// <summary>1 while the context is inside a data access.</summary>
    public int Busy;

    /// <summary>Newest generation of the domain this context has applied.</summary>
    public long SeenGeneration;

    /// <summary>The thread the context belongs to (contexts are single-threaded).</summary>
    public Thread? Owner;

    /// <summary>False once the context was disposed or its thread ended.</summary>
    public bool IsLive => !Disposed && Owner is { IsAlive: true };

    public bool Disposed;
}
