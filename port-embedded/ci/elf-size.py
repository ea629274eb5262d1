#!/usr/bin/env python3
"""Flash and static RAM of a 32-bit little-endian ELF (the firmware), from its section headers.

flash = .vector_table + .text + .rodata + .data (the initial values of .data live in flash)
ram   = .data + .bss + .uninit                  (the stack comes on top: the rest of RAM)

Prints one line per section and the two totals as `flash N` / `ram N`. No toolchain needed.
"""
import struct
import sys

FLASH = (".vector_table", ".text", ".rodata", ".data")
RAM = (".data", ".bss", ".uninit")


def sections(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        sys.exit(f"{path}: not a 32-bit little-endian ELF")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    headers = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx]
    names = data[strtab[4]:strtab[4] + strtab[5]]
    out = {}
    for h in headers:
        name = names[h[0]:names.index(b"\0", h[0])].decode()
        out[name] = h[5]
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: elf-size.py FIRMWARE.elf")
    secs = sections(sys.argv[1])
    for name in sorted(set(FLASH + RAM)):
        print(f"  {name:<14} {secs.get(name, 0):>8}")
    print(f"flash {sum(secs.get(n, 0) for n in FLASH)}")
    print(f"ram {sum(secs.get(n, 0) for n in RAM)}")


main()
