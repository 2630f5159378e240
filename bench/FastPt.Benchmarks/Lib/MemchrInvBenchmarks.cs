using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using FastPt.Lib;

// Benchmarks mirror the library's folders, and the library's folder is Lib (the kernel's lib/): the clash with
// Visual Basic's Lib keyword does not matter for a benchmark assembly.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace",
    Target = "~N:FastPt.Benchmarks.Lib", Justification = "Mirrors src/FastPt/Lib, named after the kernel's lib/.")]

namespace FastPt.Benchmarks.Lib;

/// <summary>The hot-remove scan, <c>memchr_inv(addr, 0xFD, size)</c>, over a range that is entirely
/// <c>PAGE_UNUSED</c> (the case that must read every byte): the kernel's scalar loop as the baseline, the BCL's
/// <c>IndexOfAnyExcept</c>, FastPt's entry point and its vector strategies called directly.</summary>
[MemoryDiagnoser]
[SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores",
    Justification = "Method names are the rows of the results table: library, then API.")]
public unsafe class MemchrInvBenchmarks
{
    /// <summary>The kernel's PAGE_UNUSED marker.</summary>
    private const byte PageUnused = 0xFD;

    private byte* _buffer;

    /// <summary>Bytes scanned: a 4 KiB vmemmap page, 32 KiB, a 2 MiB vmemmap block.</summary>
    [Params(4096, 32768, 2097152)]
    public int Size { get; set; }

    /// <summary>Allocates the 64-byte aligned range, filled as a fully unused vmemmap page or block.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)Size, 64);
        new Span<byte>(_buffer, Size).Fill(PageUnused);
    }

    /// <summary>Frees the range.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_buffer);
        _buffer = null;
    }

    /// <summary>The kernel's <c>lib/string.c</c> algorithm: eight bytes at a time.</summary>
    [Benchmark(Baseline = true)]
    public long KernelScalar() => MemchrInv.Scalar(_buffer, (nuint)Size, PageUnused);

    /// <summary>The BCL: <c>ReadOnlySpan&lt;byte&gt;.IndexOfAnyExcept</c>.</summary>
    [Benchmark]
    public int Bcl_IndexOfAnyExcept() => new ReadOnlySpan<byte>(_buffer, Size).IndexOfAnyExcept(PageUnused);

    /// <summary>FastPt's entry point, with whatever strategy it dispatches to.</summary>
    [Benchmark]
    public long FastPt_MemchrInv() => MemchrInv.IndexOfNot(_buffer, (nuint)Size, PageUnused);

    /// <summary>The 512-bit strategy called directly.</summary>
    [Benchmark]
    public long Vector512Scan() => MemchrInv.Vector512Scan(_buffer, (nuint)Size, PageUnused);

    /// <summary>The 256-bit strategy called directly.</summary>
    [Benchmark]
    public long Vector256Scan() => MemchrInv.Vector256Scan(_buffer, (nuint)Size, PageUnused);
}
