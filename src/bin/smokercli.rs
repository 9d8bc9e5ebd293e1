fn main() {
    println!("smokercli");
}
