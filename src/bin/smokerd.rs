fn main() {
    println!("smokerd");
}
