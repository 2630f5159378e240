using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Diagnostics;

namespace FastPt.Hardware;

// Invalidation: the flushes published to the address space's (and the kernel's) flush domain, applied before the
// next translation, and the local flush.
internal unsafe partial struct Cpu<TFrames>
{
    /// <summary>Drops everything cached (global entries included).</summary>
    public void FlushLocal()
    {
        ThrowIfDisposed();
        _tlb.FlushUser();
        _tlb.FlushGlobal();
        _tlb.FlushPagingStructureCaches();
    }

    /// <summary>Applies every flush of the address space published since the last one this CPU saw.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ApplyFlushes()
    {
        ThrowIfDisposed(); // never mark a disposed CPU as caught up: its fast paths must keep missing
        _tlb.ClearFlushPending(); // a full fence: the generation read next covers every signal it cleared
        FlushDomain domain = _domain;
        long target = domain.Generation;
        long requests = target - _seen;
        bool full = requests > FlushDomain.RingSize;
        if (!full)
        {
            for (long g = _seen + 1; g <= target; g++)
            {
                if (!domain.TryRead(g, out FlushRequest request))
                {
                    full = true;
                    break;
                }
                Apply(request);
            }
        }
        if (full)
        {
            _tlb.FlushUser();
            _tlb.FlushPagingStructureCaches();
            _counters.FullFlushes++;
        }
        _seen = target;
        Volatile.Write(ref _slot.SeenGeneration, target);
        if (FastPtEventSource.Log.IsEnabled()) FastPtEventSource.Log.ContextInvalidated(_root.Id, Number, requests, full);
    }

    private void Apply(in FlushRequest request)
    {
        switch (request.Kind)
        {
            case FlushKind.Page:
                _tlb.FlushRange(request.Start, request.End, global: false);
                _counters.PageFlushes++;
                break;
            case FlushKind.Range:
                if (request.End != request.Start) _tlb.FlushRange(request.Start, request.End, global: false);
                _counters.RangeFlushes++;
                break;
            default:
                _tlb.FlushUser();
                _counters.FullFlushes++;
                break;
        }
        if (request.TablesFreed) _tlb.FlushPagingStructureCaches();
    }

    /// <summary>Applies the kernel's flushes: every one drops all global entries. Called with the kernel slot
    /// busy, after that store (the flusher's membarrier pairs with it, as for user flushes).</summary>
    private void ApplyKernelFlushes()
    {
        long target = _kernelRoot.Flush.Generation;
        if (target == _seenKernel) return;
        _tlb.FlushGlobal();
        _counters.KernelFlushes += target - _seenKernel;
        _seenKernel = target;
        Volatile.Write(ref _kernelSlot.SeenGeneration, target);
    }
}
