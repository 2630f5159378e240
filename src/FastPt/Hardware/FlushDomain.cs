using System.Runtime.InteropServices;
using System.Threading;

namespace FastPt.Hardware;

/// <summary>One published invalidation: what to drop from every TLB attached to the domain.</summary>
internal readonly record struct FlushRequest(ulong Start, ulong End, FlushKind Kind, bool TablesFreed);

/// <summary>The invalidation channel of one address space (or of the kernel): the software equivalent of the
/// shootdown IPIs of <c>flush_tlb_mm_range</c>. A flush is published as a request numbered by a generation;
/// publishing signals every attached CPU context through its TLB's hit word (<see cref="SoftTlb.HitWord"/>), so that
/// its next translation misses, compares its acknowledged generation with the domain's and applies what it missed (or
/// flushes everything when it fell too far behind).</summary>
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
            // Then make every attached context's fast paths miss until it has applied the request. Ordering: the
            // generation is stored before the signal (the signal is an Interlocked.Or, a full fence on every
            // .NET target — a locked instruction on x86 — so the generation is visible no later than the signal), and the owner clears the signal with a locked exchange before it reads the generation
            // (SoftTlb.ClearFlushPending): either its clear comes after this signal and it reads this generation,
            // or the signal survives its clear and its next access takes the slow path again. The flusher's wait
            // (WaitForAcknowledgement) pairs with the signal as it did with the generation: an access marks itself
            // busy before it loads the hit word, so after the membarrier the flusher sees it busy or it sees the
            // signal. Contexts change only under this lock, so none attached now is missed.
            foreach (ContextSlot slot in _contexts) slot.SignalFlush();
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
    /// not in the middle of an access (QEMU's synced flush). A context that is translating acknowledges within
    /// nanoseconds (every access loads its hit word, which the publish signalled), so the wait first just watches
    /// the acknowledgements. Only when some context stays silent (its thread is idle or blocked) does it fall back
    /// to the rigorous test: a context marks itself busy with a plain store before loading its hit word, and the
    /// process-wide barrier (membarrier) makes that store visible here or makes the context see the signal — one
    /// of the two always holds, so no access that started before the flush can still be running
    /// with a stale entry when this returns.</summary>
    public void WaitForAcknowledgement(long generation)
    {
        ContextSlot[] contexts = Volatile.Read(ref _contexts);
        if (contexts.Length == 0) return;
        Thread self = Thread.CurrentThread;
        for (int spin = 0; spin < AcknowledgementSpins; spin++)
        {
            if (AllAcknowledged(contexts, generation, self)) return;
            Thread.SpinWait(8);
        }
        Interlocked.MemoryBarrierProcessWide();
        Interlocked.Increment(ref _syncedWaits);
        foreach (ContextSlot s in contexts)
        {
            if (ReferenceEquals(s.Owner, self) || !s.IsLive) continue;
            var wait = new SpinWait();
            while (Volatile.Read(ref s.Busy) != 0 && Volatile.Read(ref s.SeenGeneration) < generation)
                wait.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>How long to watch for acknowledgements before paying for the process-wide barrier.</summary>
    private const int AcknowledgementSpins = 64;

    /// <summary>Process-wide barriers a flush had to pay for because some context did not acknowledge quickly.</summary>
    public long Barriers => Volatile.Read(ref _syncedWaits);

    private static bool AllAcknowledged(ContextSlot[] contexts, long generation, Thread self)
    {
        foreach (ContextSlot s in contexts)
        {
            // The flushing thread's own context is never inside an access here (flushes are not issued from one),
            // and a context whose thread ended is never inside one again. A context belongs to one thread (the
            // MmuContext contract), so its owner is exact.
            if (ReferenceEquals(s.Owner, self) || !s.IsLive) continue;
            if (Volatile.Read(ref s.SeenGeneration) < generation) return false;
        }
        return true;
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
/// generation it has acknowledged. Written by the context's own thread only: <see cref="Busy"/> twice per access, so
/// it and <see cref="SeenGeneration"/> sit 64 bytes away from either end of the object and never share a cache line
/// with another context's slot (the garbage collector may compact two contexts' objects next to each other).</summary>
[StructLayout(LayoutKind.Explicit)]
internal sealed unsafe class ContextSlot
{
    /// <summary>The thread the context belongs to (contexts are single-threaded).</summary>
    [FieldOffset(0)] public Thread? Owner;

    [FieldOffset(8)] public bool Disposed;

    // The pinned storage of the context's TLB (kept alive by this reference while a flusher holds the slot) and
    // the hit word inside it (SoftTlb.HitWord); null for a slot that signals nothing (the kernel's).
    [FieldOffset(16)] private byte[]? _tlbStorage;
    [FieldOffset(24)] private ulong* _hitWord;

    /// <summary>1 while the context is inside a data access.</summary>
    [FieldOffset(64)] public int Busy;

    /// <summary>Newest generation of the domain this context has applied.</summary>
    [FieldOffset(72)] public long SeenGeneration;

#pragma warning disable CS0169, IDE0051, CA1823 // Padding: never read or written, it only ends the object 64 bytes after the hot words.
    [FieldOffset(136)] private readonly long _padEnd;
#pragma warning restore CS0169, IDE0051, CA1823

    /// <summary>False once the context was disposed or its thread ended.</summary>
    public bool IsLive => !Disposed && Owner is { IsAlive: true };

    /// <summary>Routes the signal of <see cref="SignalFlush"/> to a TLB's hit word (set once, by the owner, before
    /// the slot is attached to a domain).</summary>
    public void SignalTo(byte[] tlbStorage, ulong* hitWord)
    {
        _tlbStorage = tlbStorage;
        _hitWord = hitWord;
    }

    /// <summary>A flush was published: the context's fast paths miss until it has applied it (any thread).</summary>
    public void SignalFlush()
    {
        if (_tlbStorage is not null) SoftTlb.MarkFlushPending(_hitWord);
    }
}
