using System;
using System.Threading;

namespace FastPt.Benchmarks.Faults;

/// <summary>Long-lived threads, each with its own CPU context (contexts are thread-affine), that write one byte to
/// every 4 KiB page of their region when told to. Starting them once keeps thread creation out of the timings.</summary>
internal sealed class FaultWorkers : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly CountdownEvent _done = new(0);
    private readonly ulong _base;
    private readonly ulong _regionSize;
    private readonly ulong _stride;
    private volatile bool _stopping;
    private Exception? _failure;

    public FaultWorkers(AddressSpace space, int threads, ulong regionBase, ulong regionSize, ulong stride = 4096)
    {
        _base = regionBase;
        _regionSize = regionSize;
        _stride = stride;
        _threads = new Thread[threads];
        _start = new SemaphoreSlim[threads];
        using var ready = new CountdownEvent(threads);
        for (int t = 0; t < threads; t++)
        {
            int index = t;
            _start[t] = new SemaphoreSlim(0);
            _threads[t] = new Thread(() => Work(space, index, ready)) { IsBackground = true, Name = $"fault worker {t}" };
            _threads[t].Start();
        }
        ready.Wait();
    }

    private void Work(AddressSpace space, int index, CountdownEvent ready)
    {
        using MmuContext context = space.CreateContext();
        ready.Signal();
        ulong start = _base + (ulong)index * _regionSize;
        while (true)
        {
            _start[index].Wait();
            if (_stopping) return;
            try
            {
                for (ulong a = start; a < start + _regionSize; a += _stride) context.Write(new VirtAddr(a), (byte)1);
            }
            catch (Exception e)
            {
                _failure = e;
            }
            _done.Signal();
        }
    }

    /// <summary>Lets the first <paramref name="threads"/> workers fault their regions in and waits for them.</summary>
    public void Run(int threads)
    {
        _done.Reset(threads);
        for (int t = 0; t < threads; t++) _start[t].Release();
        _done.Wait();
        if (_failure is { } failure) throw new InvalidOperationException("a fault worker failed", failure);
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (SemaphoreSlim s in _start) s.Release();
        foreach (Thread t in _threads) t.Join();
        foreach (SemaphoreSlim s in _start) s.Dispose();
        _done.Dispose();
    }
}
