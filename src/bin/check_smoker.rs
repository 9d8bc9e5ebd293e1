fn main() {
    println!("check_smoker");
}
