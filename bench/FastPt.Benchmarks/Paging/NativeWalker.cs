using System;
using System.IO;
using System.Runtime.InteropServices;
using FastPt.Hardware;

namespace FastPt.Benchmarks.Paging;

/// <summary>The C reference walk of <c>bench/native/walk.c</c>: the bare walk's four dependent loads compiled by the
/// system C compiler, over the same native tables and the same <c>physical address → host pointer</c> lookup (an
/// array of the 128 MiB arena bases). One call walks a whole address stream, so the call's cost is spread over
/// thousands of translations. <c>bench/native/build.sh</c> builds the library (<c>bench/run-all.sh</c> does it
/// first); <c>FASTPT_NATIVE_WALK</c> may name it elsewhere.</summary>
internal sealed unsafe class NativeWalker : IDisposable
{
    private const string LibraryName = "libfastptwalk.so";

    private readonly nint _library;
    private readonly delegate* unmanaged<ulong*, nuint, ulong, nint*, ulong> _walk;
    private readonly nint* _arenas;

    /// <summary>Loads the library and records the host base of every 128 MiB arena of <paramref name="memory"/> that
    /// holds something written (page tables are written memory; reserving the others would only waste address
    /// space, which the host's overcommit accounting refuses beyond a few gigabytes).</summary>
    public NativeWalker(PhysicalMemory memory)
    {
        string path = FindLibrary();
        _library = NativeLibrary.Load(path);
        _walk = (delegate* unmanaged<ulong*, nuint, ulong, nint*, ulong>)NativeLibrary.GetExport(_library, "fastpt_bare_walk");
        ulong arenas = memory.MaxPhysicalAddress >> PhysicalMemory.ArenaShift;
        _arenas = (nint*)NativeMemory.AllocZeroed((nuint)arenas, (nuint)sizeof(nint));
        for (ulong s = 0; s < arenas; s++)
        {
            for (ulong chunk = s << PhysicalMemory.ArenaShift; chunk < (s + 1) << PhysicalMemory.ArenaShift; chunk += PhysicalMemory.ChunkSize)
            {
                if (!memory.IsWritten(chunk)) continue;
                _arenas[s] = (nint)memory.ReadPointer(s << PhysicalMemory.ArenaShift);
                break;
            }
        }
    }

    /// <summary>Sum of the physical addresses of <paramref name="addresses"/> from the 4-level root at
    /// <paramref name="rootPa"/>.</summary>
    public ulong Walk(ulong[] addresses, ulong rootPa)
    {
        fixed (ulong* va = addresses) return _walk(va, (nuint)addresses.Length, rootPa, _arenas);
    }

    private static string FindLibrary()
    {
        string? configured = Environment.GetEnvironmentVariable("FASTPT_NATIVE_WALK");
        if (!string.IsNullOrEmpty(configured))
        {
            if (File.Exists(configured)) return configured;
            throw new FileNotFoundException($"FASTPT_NATIVE_WALK names {configured}, which does not exist", configured);
        }
        // BenchmarkDotNet runs a generated project below the benchmark project's bin folder: look upwards.
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "bench", "native", "bin", LibraryName);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(
            $"{LibraryName} not found: run bench/native/build.sh (bench/run-all.sh does), or set FASTPT_NATIVE_WALK");
    }

    /// <summary>Frees the arena table and unloads the library.</summary>
    public void Dispose()
    {
        NativeMemory.Free(_arenas);
        NativeLibrary.Free(_library);
    }
}
